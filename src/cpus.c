/*
 * cpus: collect vCPU section bodies during a walk, and lay them out with
 * the vmdesc at its end (the bodies come first, so in a pipe they cannot
 * wait for it).
 */
#include "cpus.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

static int on_token(void *opaque, const struct sv_token *t, bool is_ram)
{
    struct cpus *c = opaque;
    struct cpu_section *cpu;

    c->cur = NULL;
    if (is_ram || t->type != SV_FULL || strcmp(t->sec->idstr, "cpu") != 0) {
        return 0;
    }
    if (c->n == CPUS_MAX) {
        c->unkept++;
        return 0;
    }
    cpu = fr_room_for_one(c->cpu, c->n, sizeof(*cpu));
    if (!cpu) {
        return fr_fail(c->err, FR_E_NOMEM, FR_NO_OFFSET, "out of memory");
    }
    c->cpu = cpu;
    c->cur = &cpu[c->n++];
    *c->cur = (struct cpu_section){ .instance_id = t->sec->instance,
                                    .body_offset = t->body_offset };
    return 0;
}

static int on_body(void *opaque, const uint8_t *p, size_t n)
{
    struct cpus *c = opaque;
    struct cpu_section *cpu = c->cur;
    size_t take;

    if (!cpu) {
        return 0;
    }
    take = CPUS_KEEP - cpu->kept < n ? CPUS_KEEP - cpu->kept : n;
    if (take) {
        if (!cpu->body) {
            cpu->body = malloc(CPUS_KEEP);
            if (!cpu->body) {
                return fr_fail(c->err, FR_E_NOMEM, FR_NO_OFFSET,
                               "out of memory");
            }
        }
        memcpy(cpu->body + cpu->kept, p, take);
        cpu->kept += take;
    }
    cpu->body_len += n;
    return 0;
}

static int on_vmdesc(void *opaque, const uint8_t *json, uint64_t len)
{
    struct cpus *c = opaque;

    c->cur = NULL;
    if (!len) {
        return 0;
    }
    c->have_vmdesc = true;
    /* a vmdesc that cannot be read leaves the registers unknown: the walk
     * does not depend on it (verify reports it) */
    if (vmdesc_layouts(json, len, c->sum->vmdesc_offset + 5, "cpu",
                       &c->layouts, &c->nlayouts, &c->layout_err)) {
        if (c->layout_err.kind == FR_E_NOMEM) {
            return fr_fail(c->err, FR_E_NOMEM, FR_NO_OFFSET,
                           "out of memory");
        }
        c->layout_failed = true;
        return 0;
    }
    for (size_t i = 0; i < c->n; i++) {
        for (size_t j = 0; j < c->nlayouts; j++) {
            if (c->layouts[j].instance_id == c->cpu[i].instance_id) {
                c->cpu[i].layout = &c->layouts[j];
                break;
            }
        }
    }
    return 0;
}

void cpus_visitor(struct cpus *c, struct savefile *sf,
                  const struct sf_summary *sum, struct sf_visitor *v)
{
    memset(c, 0, sizeof(*c));
    c->err = &sf->err;
    c->sum = sum;
    memset(v, 0, sizeof(*v));
    v->opaque = c;
    v->token = on_token;
    v->device_body = on_body;
    v->vmdesc = on_vmdesc;
}

void cpus_free(struct cpus *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->cpu[i].body);
    }
    free(c->cpu);
    vmdesc_layouts_free(c->layouts, c->nlayouts);
    memset(c, 0, sizeof(*c));
}
