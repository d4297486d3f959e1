# Runs one job and records how it ended, whether or not the app worker that
# started it is still there. Runs as root (or the service's user) in its own
# process group; the job itself runs as its own unprivileged user.
# usage: dash job_wrapper.sh JOB_DIR CGROUP_PROCS RLIMITS COMMAND [ARG...]
#   CGROUP_PROCS: cgroup.procs files to join, separated by ':', or '-' for none.
#   RLIMITS: dash ulimit settings (t=CPU_SECONDS v=KB ...), inherited by the job.
# stdin, stdout and stderr are already the job's files.
#
# Every command here is a shell builtin but the job's: each program started
# costs about 1.5 ms on our machines, more than the rest of a short job.
job_dir=$1
cgroup_procs=$2
rlimits=$3
shift 3
echo $$ > "$job_dir/wrapper.pid"
# Limits are set here, not in the app worker, so the worker can spawn with a
# plain vfork and never pays for a fork of itself. dash's ulimit sets the hard
# and the soft limit.
for limit in $rlimits; do
    ulimit "-${limit%%=*}" "${limit#*=}" || exit 125
done
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
# One short write: a reader sees the whole number or nothing (an adopter reads
# it only after this wrapper has exited).
echo "$code" > "$job_dir/exit_status"
exit "$code"
