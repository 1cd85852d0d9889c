"""Runs an experiment: `python launch.py --config=configs/oulu.py --workdir=DIR [--config.X=...]`.

Several hosts: the same command on every host, with `--coordinator_address=HOST0:PORT
--num_processes=N --process_id=K` (or the environment variables JAX_COORDINATOR_ADDRESS,
JAX_NUM_PROCESSES, JAX_PROCESS_ID); `--distributed` alone lets JAX find them on a cluster it knows
(SLURM, Open MPI, Cloud TPU).
"""
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Experiment config file.',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Where checkpoints, logs and results go.')
_OVERWRITE = flags.DEFINE_bool(
    'overwrite', False, "Start the workdir over: remove its run's files (config, results, "
    'fold_K folders with their checkpoints) first.')
_RESUME_CHANGED = flags.DEFINE_bool(
    'resume_with_changed_config', False, 'Continue a workdir made with another config (which '
    'otherwise stops the run): finished folds are kept, unfinished ones go on with this config.')
_DISTRIBUTED = flags.DEFINE_bool(
    'distributed', False, 'Call jax.distributed.initialize() first (several processes or hosts); '
    'implied by the three flags below.')
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address', None, 'host:port of process 0, the same on every process '
    '(default: $JAX_COORDINATOR_ADDRESS).')
_NUM_PROCESSES = flags.DEFINE_integer(
    'num_processes', None, 'How many processes take part (default: $JAX_NUM_PROCESSES).')
_PROCESS_ID = flags.DEFINE_integer(
    'process_id', None, "This process's rank, 0 to num_processes - 1 (default: $JAX_PROCESS_ID).")
flags.mark_flags_as_required(['config', 'workdir'])

ENVIRONMENT = {'coordinator_address': 'JAX_COORDINATOR_ADDRESS',
               'num_processes': 'JAX_NUM_PROCESSES', 'process_id': 'JAX_PROCESS_ID'}


def distributed_settings() -> dict:
  """The `jax.distributed.initialize` arguments given by flags or, failing those, the
  environment; only those given."""
  given = {}
  for name, variable in ENVIRONMENT.items():
    value = flags.FLAGS[name].value
    if value is None and os.environ.get(variable):
      value = os.environ[variable]
      if name != 'coordinator_address':
        try:
          value = int(value)
        except ValueError:
          raise app.UsageError(f'{variable}={value!r} must be an integer') from None
    if value is not None:
      given[name] = value
  return given


def parse_flags(argv: list[str]) -> list[str]:
  """absl's parsing, with a mistyped or ill-typed `--config.KEY=VALUE` (which ml_collections
  raises as a Python exception) told in one line, without a traceback."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    message = str(e)
  except (AttributeError, KeyError) as e:  # ml_collections: a key the config lacks
    text = str(e).encode().decode('unicode_escape')
    hint = text[text.find('Did you mean'):].rstrip('\'"') if 'Did you mean' in text else ''
    message = f'the config has no such key. {hint}'.strip()
  except (TypeError, ValueError) as e:  # ml_collections: a value of the wrong type
    message = ' '.join(str(e).split())
  given = [a.split('=')[0] for a in argv[1:] if a.startswith('--config.')]
  print(f'error: {message} ({" ".join(given) or "the flags"}; see --helpfull)', file=sys.stderr)
  sys.exit(2)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO; -v 0 brings it back
  import jax

  from emojax.errors import UserError, exit_with
  from emojax.train import train_and_evaluate
  settings = distributed_settings()
  if _DISTRIBUTED.value or settings:
    jax.distributed.initialize(**settings)
  try:
    train_and_evaluate(_CONFIG.value, _WORKDIR.value, overwrite=_OVERWRITE.value,
                       resume_with_changed_config=_RESUME_CHANGED.value)
  except UserError as e:
    exit_with(e, flag_prefix='--config.')


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
