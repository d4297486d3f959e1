# Runs one job and records how it ended, whether or not the app worker that
# started it is still there. Runs as root (or the service's user) in its own
# session; the job itself runs as its own unprivileged user.
# usage: sh job_wrapper.sh JOB_DIR COMMAND [ARG...]
# stdin, stdout and stderr are already the job's files.
job_dir=$1
shift
echo $$ > "$job_dir/wrapper.pid"
# Writes past the file-size limit then fail (the output is dropped) instead of
# killing the job; an ignored signal stays ignored in the job's processes.
trap '' XFSZ
umask 077
"$@"
code=$?
echo "$code" > "$job_dir/exit_status.tmp" && mv "$job_dir/exit_status.tmp" "$job_dir/exit_status"
exit "$code"
