/* gateway/gw_redact.h: redaction of OpenAI-shaped JSON bodies and streams, on
 * top of redaction/red.h. The redactor lives in the config snapshot (built at
 * load, immutable, shared by threads); a gw_redact_req lives in the request arena. */
#ifndef GW_REDACT_H
#define GW_REDACT_H

#include <jansson.h>
#include <stdbool.h>

#include "common/cm.h"

typedef struct gw_redactor gw_redactor;     /* engine + actions + role overrides */
typedef struct gw_redact_req gw_redact_req; /* per request, in the request arena */

/* Build from the config's "redaction" object (NULL: rules_dir "rules" and the
 * rules' default actions). base_dir resolves relative paths. Every mistake is
 * added to errs ("redaction.actions.EMAIL: ..." or "rules/x.rules:12: ...").
 * Returns 0, CM_EINVAL (bad config or rules), CM_EIO (rules unreadable). */
int gw_redactor_load(json_t *section, const char *base_dir, gw_redactor **out,
                     cm_errlist *errs) CM_MUST_CHECK;
void gw_redactor_free(gw_redactor *r); /* NULL is fine; no request may still use it */

/* Redact, in place, every text of an OpenAI request body: messages[].content
 * (string or parts), refusal, tool_calls[].function.arguments, function_call,
 * legacy "prompt", embeddings "input" (string or strings), "user",
 * "instructions". endpoint: "chat" or "embeddings". roles (may be NULL when
 * nroles is 0) select the role overrides. *out is allocated in a.
 * Returns 0; CM_EBLOCKED with *block_type = a static type name (never a value);
 * CM_EINVAL (a text we cannot scan, e.g. token-id input; unknown endpoint);
 * CM_ETOOBIG (arena budget); CM_EINTERNAL. Never returns 0 with unscanned text. */
int gw_redact_request(const gw_redactor *r, const char *const *roles, size_t nroles,
                      const char *endpoint, json_t *body, cm_arena *a, gw_redact_req **out,
                      const char **block_type) CM_MUST_CHECK;

/* True when the request created pseudonyms, i.e. answers need restoring. */
bool gw_redact_needs_restore(const gw_redact_req *rr);

/* Put the original values back into a chat.completion: choices[].message
 * content (string or text parts), refusal and tool_calls arguments. */
int gw_redact_restore_json(gw_redact_req *rr, json_t *response) CM_MUST_CHECK;

/* One SSE `data:` payload (a chat.completion.chunk or "[DONE]"): appends the
 * payload to send to out, unchanged bytes when nothing is restored. A tail
 * that may start a placeholder is held back per choice (and tool call) and
 * released with the next event or at the chunk with finish_reason. If a stream
 * ends with "[DONE]" while text is still held, out gets a chunk carrying it,
 * then "\n\ndata: [DONE]" (two events; the caller frames "data: " + out + "\n\n").
 * Sequential calls per request; not thread-safe for one rr. */
int gw_redact_restore_event(gw_redact_req *rr, const char *data, size_t len,
                            cm_buf *out) CM_MUST_CHECK;

/* Append {"EMAIL":2,"IBAN":1}: findings per entity type (never values); "{}" if none. */
int gw_redact_audit(const gw_redact_req *rr, cm_buf *out) CM_MUST_CHECK;

/* `gateway redact --config FILE [--jsonl]`, argv[0] = "redact": stdin to
 * stdout. Plain: the whole input is one text. --jsonl: lines {"id","text"} to
 * {"id","text","findings":[{"type","rule","start","end"}]} (byte offsets in the
 * input text; never values). Exit: 0 ok, 1 usage/config, 2 bad input, 3 blocked. */
int gw_redact_cli(int argc, char **argv);

#endif
