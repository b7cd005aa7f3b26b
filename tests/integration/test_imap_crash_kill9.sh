#!/usr/bin/env bash
# test_crash_kill9.sh over IMAP: postbridge is killed with SIGKILL twice while it delivers a
# 500-message fetch, that is between the delivery of a message and the \Deleted + UID EXPUNGE that
# only follows the delivery. A restart with --once delivers every message, empties the folder, and
# duplicates only the messages whose "250" was in flight at a kill.
PB_CRASH_INIT=52 PB_CRASH_IMAP=1
. "$(dirname "$0")/test_crash_kill9.sh"
