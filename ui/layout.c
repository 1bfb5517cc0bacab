/* layout.c — the layout tree: tmux-like binary splits whose leaves are pane ids.
 *
 * Each inner node splits its rectangle in two, side by side (UI_SPLIT_H) or stacked
 * (UI_SPLIT_V); `share` is the fraction of it that goes to the second child. Rectangles are
 * computed top-down: the second child gets round(total * share) columns/rows, clamped so
 * that both get at least one, and the first child the rest, so siblings tile their parent
 * exactly (no separator is reserved: panes draw their own borders). A hidden leaf, or a
 * subtree with only hidden leaves, gives all of its parent's space to its sibling. Zoom
 * shows one pane over the whole area without changing the tree.
 */
#include "ui/ui.h"

#include <stdlib.h>

struct lnode {
    struct lnode *parent, *a, *b; /* a, b: children of an inner node */
    enum ui_split dir;            /* UI_SPLIT_NONE: a leaf */
    int pane;                     /* leaf */
    bool hidden;                  /* leaf */
    double share;                 /* inner: the part of the space that goes to b */
};

struct ui_layout {
    struct lnode *root;
    int zoom; /* -1: none */
};

/* Rounds a non-negative size to the nearest integer (no libm: ui links without it). */
static long round_size(double x)
{
    return (long)(x + 0.5);
}

static struct lnode *leaf_new(int pane)
{
    struct lnode *n = calloc(1, sizeof *n);
    if (n) n->pane = pane;
    return n;
}

struct ui_layout *ui_layout_new(int root_pane)
{
    struct ui_layout *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->root = leaf_new(root_pane);
    if (!l->root) {
        free(l);
        return NULL;
    }
    l->zoom = -1;
    return l;
}

static void node_free(struct lnode *n)
{
    if (!n) return;
    node_free(n->a);
    node_free(n->b);
    free(n);
}

void ui_layout_free(struct ui_layout *l)
{
    if (!l) return;
    node_free(l->root);
    free(l);
}

static struct lnode *find(struct lnode *n, int pane)
{
    if (!n) return NULL;
    if (n->dir == UI_SPLIT_NONE) return n->pane == pane ? n : NULL;
    struct lnode *f = find(n->a, pane);
    return f ? f : find(n->b, pane);
}

static bool visible(const struct lnode *n)
{
    if (n->dir == UI_SPLIT_NONE) return !n->hidden;
    return visible(n->a) || visible(n->b);
}

int ui_layout_split(struct ui_layout *l, int pane, enum ui_split dir, int new_pane, double share)
{
    struct lnode *leaf = find(l->root, pane);
    if (!leaf || dir == UI_SPLIT_NONE || find(l->root, new_pane)) return -1;
    struct lnode *inner = calloc(1, sizeof *inner), *added = leaf_new(new_pane);
    if (!inner || !added) {
        free(inner);
        free(added);
        return -1;
    }
    if (!(share >= 0.0)) share = 0.5; /* NaN */
    inner->share = share > 1.0 ? 1.0 : share;
    inner->dir = dir;
    inner->parent = leaf->parent;
    if (!leaf->parent)
        l->root = inner;
    else if (leaf->parent->a == leaf)
        leaf->parent->a = inner;
    else
        leaf->parent->b = inner;
    inner->a = leaf;
    inner->b = added;
    leaf->parent = added->parent = inner;
    return 0;
}

int ui_layout_remove(struct ui_layout *l, int pane)
{
    struct lnode *leaf = find(l->root, pane);
    if (!leaf || !leaf->parent) return -1; /* the last pane stays */
    struct lnode *p = leaf->parent, *sib = p->a == leaf ? p->b : p->a, *gp = p->parent;
    sib->parent = gp;
    if (!gp)
        l->root = sib;
    else if (gp->a == p)
        gp->a = sib;
    else
        gp->b = sib;
    free(leaf);
    free(p);
    if (l->zoom == pane) l->zoom = -1;
    return 0;
}

/* Splits `r` between the children of `n`; false when only one of them gets space. */
static bool split_rect(const struct lnode *n, struct ui_rect r, struct ui_rect *ra,
                       struct ui_rect *rb)
{
    int total = n->dir == UI_SPLIT_H ? r.w : r.h;
    if (total < 2) return false;
    long sb = round_size(total * n->share);
    if (sb < 1) sb = 1;
    if (sb > total - 1) sb = total - 1;
    int sa = total - (int)sb;
    *ra = *rb = r;
    if (n->dir == UI_SPLIT_H) {
        ra->w = sa;
        rb->x = r.x + sa;
        rb->w = (int)sb;
    } else {
        ra->h = sa;
        rb->y = r.y + sa;
        rb->h = (int)sb;
    }
    return true;
}

static void compute(const struct lnode *n, struct ui_rect r, int *panes, struct ui_rect *rects,
                    int max, int *count)
{
    if (r.w < 1 || r.h < 1 || !visible(n)) return;
    if (n->dir == UI_SPLIT_NONE) {
        if (*count < max) {
            panes[*count] = n->pane;
            rects[*count] = r;
            ++*count;
        }
        return;
    }
    struct ui_rect ra, rb;
    bool va = visible(n->a), vb = visible(n->b);
    if (va && vb && split_rect(n, r, &ra, &rb)) {
        compute(n->a, ra, panes, rects, max, count);
        compute(n->b, rb, panes, rects, max, count);
    } else {
        compute(va ? n->a : n->b, r, panes, rects, max, count);
    }
}

int ui_layout_compute(const struct ui_layout *l, struct ui_rect area, int *panes,
                      struct ui_rect *rects, int max)
{
    int count = 0;
    if (max <= 0 || area.w < 1 || area.h < 1) return 0;
    if (l->zoom >= 0) {
        struct lnode *z = find(l->root, l->zoom);
        if (z && !z->hidden) {
            panes[0] = z->pane;
            rects[0] = area;
            return 1;
        }
    }
    compute(l->root, area, panes, rects, max, &count);
    return count;
}

void ui_layout_set_hidden(struct ui_layout *l, int pane, bool hidden)
{
    struct lnode *n = find(l->root, pane);
    if (n) n->hidden = hidden;
}

void ui_layout_set_zoom(struct ui_layout *l, int pane)
{
    l->zoom = pane >= 0 && find(l->root, pane) ? pane : -1;
}

int ui_layout_zoomed(const struct ui_layout *l)
{
    return l->zoom;
}

/* The rectangle `target` gets inside `area` (as compute() would); false when it gets none. */
static bool node_rect(const struct lnode *root, const struct lnode *target, struct ui_rect area,
                      struct ui_rect *out)
{
    const struct lnode *path[64];
    int depth = 0;
    for (const struct lnode *n = target; n; n = n->parent) {
        if (depth == 64) return false; /* deeper than any screen can show */
        path[depth++] = n;
    }
    if (path[depth - 1] != root) return false;
    struct ui_rect r = area;
    for (int i = depth - 1; i > 0; i--) {
        const struct lnode *n = path[i], *child = path[i - 1];
        if (!visible(child)) return false;
        struct ui_rect ra, rb;
        if (visible(n->a) && visible(n->b)) {
            if (!split_rect(n, r, &ra, &rb)) {
                if (child != n->a) return false;
            } else {
                r = child == n->a ? ra : rb;
            }
        }
    }
    *out = r;
    return r.w >= 1 && r.h >= 1;
}

int ui_layout_resize(struct ui_layout *l, int pane, int delta, struct ui_rect area)
{
    struct lnode *leaf = find(l->root, pane);
    if (!leaf || !leaf->parent) return -1;
    struct lnode *p = leaf->parent;
    struct ui_rect r;
    if (!node_rect(l->root, p, area, &r)) return -1;
    if (!visible(p->a) || !visible(p->b)) return 0; /* the pane has all of it already */
    int total = p->dir == UI_SPLIT_H ? r.w : r.h;
    if (total < 2) return 0;
    long sb = round_size(total * p->share);
    if (sb < 1) sb = 1;
    if (sb > total - 1) sb = total - 1;
    long nb = p->b == leaf ? sb + delta : sb - delta;
    if (nb < 1) nb = 1;
    if (nb > total - 1) nb = total - 1;
    p->share = (double)nb / total;
    return 0;
}

static void collect(const struct lnode *n, const struct lnode **v, int *count, int max)
{
    if (n->dir != UI_SPLIT_NONE) {
        collect(n->a, v, count, max);
        collect(n->b, v, count, max);
    } else if (*count < max) {
        v[(*count)++] = n;
    }
}

int ui_layout_next(const struct ui_layout *l, int pane)
{
    enum { MAX_PANES = 256 };
    const struct lnode *v[MAX_PANES];
    int n = 0, at = -1;
    collect(l->root, v, &n, MAX_PANES);
    for (int i = 0; i < n; i++)
        if (v[i]->pane == pane) at = i;
    for (int k = 1; k <= n; k++) {
        const struct lnode *c = v[((at < 0 ? -1 : at) + k + n) % n];
        if (!c->hidden) return c->pane;
    }
    return -1;
}
