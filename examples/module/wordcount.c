/*
 * wordcount.c — two goroutines that JS starts with rt.go():
 *
 *  split(text, words)      sends the length of every word of text on
 *                          words (an 'f64' channel), then closes it;
 *  count(words, totals, ctx)
 *                          receives word lengths until words is closed or
 *                          ctx is done, then sends the number of words and
 *                          the number of letters on totals (an 'f64'
 *                          channel).
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <gort/gort.h>
#include <gort/js.h>

static void split(gort_js_args *args)
{
    const char *text = gort_js_string(args, 0);
    gort_chan *words = gort_js_chan(args, 1);
    for (const char *p = text; *p != '\0';) {
        while (*p != '\0' && isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p != '\0' && !isspace((unsigned char)*p))
            p++;
        if (p > start) {
            double length = (double)(p - start);
            gort_chan_send(words, &length);
        }
    }
    gort_chan_close(words);
}
GORT_EXPORT_GO(split, "string text, chan words");

static void count(gort_js_args *args)
{
    gort_chan *words = gort_js_chan(args, 0), *totals = gort_js_chan(args, 1);
    gort_context *ctx = gort_js_context(args, 2);
    double nwords = 0, nletters = 0, length;
    for (;;) {
        gort_select_case cases[] = {
            GORT_RECV_CASE(words, &length),
            GORT_RECV_CASE(gort_context_done(ctx), NULL),
        };
        if (gort_select(cases, 2, false) != 0 || !cases[0].ok)
            break;
        nwords++;
        nletters += length;
    }
    gort_chan_send(totals, &nwords);
    gort_chan_send(totals, &nletters);
}
GORT_EXPORT_GO(count, "chan words, chan totals, context ctx");
