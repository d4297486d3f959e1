# Runs one job and records how it ended, whether or not the app worker that
# started it is still there. Runs as root (or the service's user) in its own
# session; the job itself runs as its own unprivileged user.
# usage: sh job_wrapper.sh JOB_DIR CGROUP_PROCS RLIMITS COMMAND [ARG...]
#   CGROUP_PROCS: cgroup.procs files to join, separated by ':', or '-' for none.
#   RLIMITS: prlimit options (--cpu=N --as=N ...), inherited by the job.
# stdin, stdout and stderr are already the job's files.
job_dir=$1
cgroup_procs=$2
rlimits=$3
shift 3
echo $$ > "$job_dir/wrapper.pid"
# Limits are set here, not in the app worker, so the worker can spawn with a
# plain vfork and never pays for a fork of itself.
# shellcheck disable=SC2086  # one word per option
prlimit --pid $$ $rlimits || exit 125
if [ "$cgroup_procs" != "-" ]; then
    # Join the job's cgroups before starting it, so all it forks is inside.
    IFS=:
    for procs in $cgroup_procs; do
        echo $$ > "$procs" || exit 125
    done
    unset IFS
fi
# Writes past the file-size limit then fail (the output is dropped) instead of
# killing the job; an ignored signal stays ignored in the job's processes.
trap '' XFSZ
umask 077
"$@"
code=$?
echo "$code" > "$job_dir/exit_status.tmp" && mv "$job_dir/exit_status.tmp" "$job_dir/exit_status"
exit "$code"
