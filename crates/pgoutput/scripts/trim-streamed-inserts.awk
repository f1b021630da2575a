# Trims a capture (`<lsn> TAB <xid> TAB <hex>` lines) to keep the fixtures small: inside each
# Stream Start .. Stream Stop block only the first `keep` Insert messages are kept; every other
# message is kept verbatim, so the block structure and every message kind remain.
# Usage: awk -F '\t' -v keep=3 -f trim-streamed-inserts.awk
{ tag = substr($3, 1, 2) }
tag == "53" { in_stream = 1; inserts = 0 }                # S: Stream Start
tag == "45" { in_stream = 0 }                             # E: Stream Stop
tag == "49" && in_stream { if (++inserts > keep) next }   # I inside a block
{ print }
