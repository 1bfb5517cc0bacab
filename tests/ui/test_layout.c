/* Tests of ui/layout.c: split rectangles tile the area exactly (every cell covered once,
 * every pane at least 1x1) for many sizes, hidden panes give their space away, zoom, resize
 * clamps, focus order and removal. */
#include "test_util.h"
#include "ui/ui.h"

#include <stdlib.h>
#include <string.h>

#define MAXP 16

/* Computes the layout and checks that the rectangles tile `area` exactly; returns the count. */
static int tile(const struct ui_layout *l, struct ui_rect area, int *panes, struct ui_rect *rects)
{
    int n = ui_layout_compute(l, area, panes, rects, MAXP);
    unsigned char *grid = calloc((size_t)area.w * (size_t)area.h, 1);
    for (int i = 0; i < n; i++) {
        struct ui_rect r = rects[i];
        assert_true(r.w >= 1 && r.h >= 1);
        assert_true(r.y >= area.y && r.x >= area.x);
        assert_true(r.y + r.h <= area.y + area.h && r.x + r.w <= area.x + area.w);
        for (int y = r.y; y < r.y + r.h; y++)
            for (int x = r.x; x < r.x + r.w; x++)
                grid[(size_t)(y - area.y) * (size_t)area.w + (size_t)(x - area.x)]++;
    }
    for (size_t i = 0; i < (size_t)area.w * (size_t)area.h; i++)
        assert_int_equal(grid[i], 1);
    free(grid);
    return n;
}

static struct ui_rect rect_of(const struct ui_layout *l, struct ui_rect area, int pane)
{
    int panes[MAXP];
    struct ui_rect rects[MAXP];
    int n = tile(l, area, panes, rects);
    for (int i = 0; i < n; i++)
        if (panes[i] == pane) return rects[i];
    fail_msg("pane %d not shown", pane);
    return (struct ui_rect){0};
}

/* 1 | (2 / (3 | 4)), the workstation's conversations | chat / tools shape */
static struct ui_layout *tree(void)
{
    struct ui_layout *l = ui_layout_new(1);
    assert_non_null(l);
    assert_int_equal(ui_layout_split(l, 1, UI_SPLIT_H, 2, 0.8), 0);
    assert_int_equal(ui_layout_split(l, 2, UI_SPLIT_V, 3, 0.3), 0);
    assert_int_equal(ui_layout_split(l, 3, UI_SPLIT_H, 4, 0.5), 0);
    return l;
}

static void test_tiles(void **state)
{
    (void)state;
    struct ui_layout *l = tree();
    int panes[MAXP];
    struct ui_rect rects[MAXP];
    for (int h = 1; h <= 50; h += 7)
        for (int w = 1; w <= 200; w++) {
            int n = tile(l, (struct ui_rect){2, 3, h, w}, panes, rects);
            if (w >= 4 && h >= 2) assert_int_equal(n, 4);
        }
    struct ui_rect area = {0, 0, 20, 60};
    assert_int_equal(tile(l, area, panes, rects), 4);
    const int want_panes[] = {1, 2, 3, 4};
    const struct ui_rect want[] = {
        {0, 0, 20, 12}, {0, 12, 14, 48}, {14, 12, 6, 24}, {14, 36, 6, 24}};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(panes[i], want_panes[i]);
        assert_memory_equal(&rects[i], &want[i], sizeof want[i]);
    }
    area = (struct ui_rect){1, 0, 50, 200};
    assert_int_equal(tile(l, area, panes, rects), 4);
    assert_int_equal(rect_of(l, area, 2).w, 160);
    assert_int_equal(rect_of(l, area, 3).h, 15);

    /* the output is bounded by max */
    assert_int_equal(ui_layout_compute(l, area, panes, rects, 2), 2);
    assert_int_equal(ui_layout_compute(l, (struct ui_rect){0, 0, 0, 10}, panes, rects, 4), 0);
    ui_layout_free(l);
    ui_layout_free(NULL);

    /* shares at the extremes still leave every pane one cell */
    l = ui_layout_new(7);
    assert_int_equal(ui_layout_split(l, 7, UI_SPLIT_V, 8, 0.0), 0);
    assert_int_equal(rect_of(l, (struct ui_rect){0, 0, 20, 60}, 8).h, 1);
    assert_int_equal(ui_layout_split(l, 8, UI_SPLIT_H, 9, 1.0), 0);
    assert_int_equal(rect_of(l, (struct ui_rect){0, 0, 20, 60}, 8).w, 1);
    ui_layout_free(l);
}

static void test_hidden_zoom(void **state)
{
    (void)state;
    struct ui_layout *l = tree();
    struct ui_rect area = {0, 0, 20, 60};
    int panes[MAXP];
    struct ui_rect rects[MAXP];
    ui_layout_set_hidden(l, 1, true);
    assert_int_equal(tile(l, area, panes, rects), 3);
    assert_int_equal(rect_of(l, area, 2).w, 60);
    ui_layout_set_hidden(l, 3, true);
    assert_int_equal(tile(l, area, panes, rects), 2);
    struct ui_rect r = rect_of(l, area, 4), want = {14, 0, 6, 60};
    assert_memory_equal(&r, &want, sizeof r);
    ui_layout_set_hidden(l, 4, true); /* the whole lower subtree is hidden */
    assert_int_equal(tile(l, area, panes, rects), 1);
    r = rect_of(l, area, 2);
    assert_memory_equal(&r, &area, sizeof area);
    ui_layout_set_hidden(l, 1, false);
    ui_layout_set_hidden(l, 3, false);
    ui_layout_set_hidden(l, 4, false);
    assert_int_equal(tile(l, area, panes, rects), 4);

    assert_int_equal(ui_layout_zoomed(l), -1);
    ui_layout_set_zoom(l, 3);
    assert_int_equal(ui_layout_zoomed(l), 3);
    assert_int_equal(ui_layout_compute(l, area, panes, rects, MAXP), 1);
    assert_int_equal(panes[0], 3);
    assert_memory_equal(&rects[0], &area, sizeof area);
    ui_layout_set_hidden(l, 3, true); /* a hidden pane cannot fill the screen */
    assert_int_equal(tile(l, area, panes, rects), 3);
    ui_layout_set_hidden(l, 3, false);
    ui_layout_set_zoom(l, 42); /* unknown: no zoom */
    assert_int_equal(ui_layout_zoomed(l), -1);
    ui_layout_set_zoom(l, 2);
    ui_layout_set_zoom(l, -1);
    assert_int_equal(tile(l, area, panes, rects), 4);
    ui_layout_free(l);
}

static void test_resize(void **state)
{
    (void)state;
    struct ui_layout *l = tree();
    struct ui_rect area = {0, 0, 20, 60};
    assert_int_equal(rect_of(l, area, 1).w, 12);
    assert_int_equal(ui_layout_resize(l, 1, 5, area), 0);
    assert_int_equal(rect_of(l, area, 1).w, 17);
    assert_int_equal(ui_layout_resize(l, 2, 3, area), 0); /* 2's parent is the stacked split */
    assert_int_equal(rect_of(l, area, 2).h, 17);
    assert_int_equal(rect_of(l, area, 3).h, 3);
    assert_int_equal(rect_of(l, area, 1).w, 17);
    assert_int_equal(ui_layout_resize(l, 1, 1000, area), 0);
    assert_int_equal(rect_of(l, area, 1).w, 59);
    assert_int_equal(rect_of(l, area, 2).w, 1);
    assert_int_equal(ui_layout_resize(l, 1, -1000, area), 0);
    assert_int_equal(rect_of(l, area, 1).w, 1);
    /* deeper splits are measured in the parent's own rectangle */
    assert_int_equal(ui_layout_resize(l, 1, 11, area), 0);
    assert_int_equal(rect_of(l, area, 1).w, 12);
    assert_int_equal(ui_layout_resize(l, 4, 2, area), 0); /* 4's parent is the 3|4 split */
    assert_int_equal(rect_of(l, area, 4).w, 26);
    assert_int_equal(ui_layout_resize(l, 3, -2, area), 0);
    assert_int_equal(rect_of(l, area, 3).w, 20);
    assert_int_equal(ui_layout_resize(l, 9, 1, area), -1);
    struct ui_layout *single = ui_layout_new(5);
    assert_int_equal(ui_layout_resize(single, 5, 1, area), -1);
    ui_layout_free(single);
    /* a size survives recomputation at the same area */
    for (int d = -30; d <= 30; d++) {
        assert_int_equal(ui_layout_resize(l, 1, d, area), 0);
        int w = rect_of(l, area, 1).w;
        assert_int_equal(ui_layout_resize(l, 1, 1, area), 0);
        assert_int_equal(rect_of(l, area, 1).w, w < 59 ? w + 1 : 59);
    }
    ui_layout_free(l);
}

static void test_next_remove(void **state)
{
    (void)state;
    struct ui_layout *l = tree();
    assert_int_equal(ui_layout_next(l, 1), 2);
    assert_int_equal(ui_layout_next(l, 2), 3);
    assert_int_equal(ui_layout_next(l, 4), 1);
    assert_int_equal(ui_layout_next(l, 99), 1);
    ui_layout_set_hidden(l, 2, true);
    assert_int_equal(ui_layout_next(l, 1), 3);
    ui_layout_set_hidden(l, 2, false);

    assert_int_equal(ui_layout_split(l, 1, UI_SPLIT_H, 2, 0.5), -1); /* id taken */
    assert_int_equal(ui_layout_split(l, 99, UI_SPLIT_H, 5, 0.5), -1);
    assert_int_equal(ui_layout_split(l, 1, UI_SPLIT_NONE, 5, 0.5), -1);

    struct ui_rect area = {0, 0, 50, 200};
    int panes[MAXP];
    struct ui_rect rects[MAXP];
    ui_layout_set_zoom(l, 3);
    assert_int_equal(ui_layout_remove(l, 3), 0);
    assert_int_equal(ui_layout_zoomed(l), -1);
    assert_int_equal(tile(l, area, panes, rects), 3);
    assert_int_equal(rect_of(l, area, 4).w, 160); /* 4 took the place of the 3|4 split */
    assert_int_equal(ui_layout_remove(l, 1), 0);
    assert_int_equal(tile(l, area, panes, rects), 2);
    assert_int_equal(rect_of(l, area, 2).w, 200);
    assert_int_equal(ui_layout_remove(l, 3), -1);
    assert_int_equal(ui_layout_remove(l, 2), 0);
    assert_int_equal(ui_layout_remove(l, 4), -1); /* the last pane stays */
    assert_int_equal(tile(l, area, panes, rects), 1);
    assert_int_equal(panes[0], 4);
    assert_int_equal(ui_layout_next(l, 4), 4);
    ui_layout_set_hidden(l, 4, true);
    assert_int_equal(ui_layout_next(l, 4), -1);
    assert_int_equal(ui_layout_compute(l, area, panes, rects, MAXP), 0);
    ui_layout_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiles),
        cmocka_unit_test(test_hidden_zoom),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_next_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
