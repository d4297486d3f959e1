"""The Slurm executor: queues with ``executor: slurm`` hand their jobs to a Slurm
cluster (``executor.SlurmExecutor``, the ``services/slurm_executor`` program).

- ``commands``: Slurm's client commands (sbatch, squeue, scancel) as asyncio
  subprocesses, by absolute path, in a fixed environment, and their answers;
- ``batch``: a job's directory on the shared filesystem, its batch script and
  sbatch's options;
- ``outcome``: Slurm's states and what each means for a job here;
- ``executor``: the claim, the submissions, one batched poll per queue, cancels,
  adoption after a restart.
"""
