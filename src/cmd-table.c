/* The table of commands: "fixedram --help" is generated from it. */
#include "config.h"

#include "cmd.h"

const struct fr_cmd *const fr_cmds[] = {
    &fr_cmd_checksum,
    &fr_cmd_compact,
    &fr_cmd_convert,
    &fr_cmd_diff,
    &fr_cmd_extract,
    &fr_cmd_inspect,
    &fr_cmd_verify,
    NULL,
};
