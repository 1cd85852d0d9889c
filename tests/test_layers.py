"""The package's import graph: no cycles (lazy imports inside functions included), layers that only
point down, a light `import emojax`, and source files that stay readable."""
import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ('emojax', 'tfds_builders')
# Lowest first; a module may import its own layer's modules and those of the layers below.
LAYERS = (
    ('emojax.xla_cpu', 'emojax.errors', 'emojax.sharding', 'emojax.compilation_cache'),
    ('emojax.models',),
    ('emojax.pretrained',),
    ('emojax.data',),
    ('emojax.checkpoints',),
    ('tfds_builders',),
    ('emojax.datasets',),
    ('emojax.evaluate',),
    ('emojax.train',),
    ('emojax.predict',),
    ('emojax',),
)
MAX_LINES = 400


def _modules() -> dict[str, str]:
  """Dotted module name -> file, for every module of `PACKAGES`."""
  found = {}
  for package in PACKAGES:
    for directory, _, files in os.walk(os.path.join(ROOT, package)):
      for name in files:
        if name.endswith('.py'):
          path = os.path.join(directory, name)
          module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, '.')
          found[module.removesuffix('.__init__')] = path
  return found


def _imports(path: str, module: str, modules) -> set[str]:
  """The package modules `path` imports anywhere in its body (top level or inside functions)."""
  package = module if path.endswith('__init__.py') else module.rpartition('.')[0]
  out = set()
  for node in ast.walk(ast.parse(open(path).read(), path)):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ''
      if node.level:
        parts = package.split('.')
        base = '.'.join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
      names = [f'{base}.{alias.name}' if f'{base}.{alias.name}' in modules else base
               for alias in node.names]
    else:
      continue
    for name in names:
      while name and name not in modules:
        name = name.rpartition('.')[0]
      if name and name != module:
        out.add(name)
  return out


def import_graph() -> dict[str, set[str]]:
  modules = _modules()
  return {m: _imports(path, m, modules) for m, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
  """One import cycle of `graph` as a list of modules (first == last), or None."""
  state, stack = {}, []

  def visit(node):
    state[node] = 'open'
    stack.append(node)
    for nxt in sorted(graph.get(node, ())):
      if state.get(nxt) == 'open':
        return stack[stack.index(nxt):] + [nxt]
      if nxt not in state:
        cycle = visit(nxt)
        if cycle:
          return cycle
    stack.pop()
    state[node] = 'done'
    return None

  for node in sorted(graph):
    if node not in state:
      cycle = visit(node)
      if cycle:
        return cycle
  return None


def layer_of(module: str) -> int:
  """Index in `LAYERS` of the most specific prefix naming `module`."""
  best, rank = -1, None
  for i, prefixes in enumerate(LAYERS):
    for prefix in prefixes:
      if (module == prefix or module.startswith(prefix + '.')) and len(prefix) > best:
        best, rank = len(prefix), i
  return rank


def test_finds_a_cycle_and_only_a_cycle():
  assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
  assert find_cycle({'a': {'b', 'c'}, 'b': {'c'}, 'c': set()}) is None


def test_reads_lazy_and_relative_imports(tmp_path):
  source = tmp_path / 'mod.py'
  source.write_text('def f():\n  from emojax.data import video\n  import emojax.models.norm\n')
  modules = {'emojax', 'emojax.data', 'emojax.data.video', 'emojax.models', 'emojax.models.norm'}
  assert _imports(str(source), 'emojax.train.mod', modules) == {'emojax.data.video',
                                                                'emojax.models.norm'}


def test_no_import_cycles():
  cycle = find_cycle(import_graph())
  assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)


def test_layers_only_point_down():
  wrong = [f'{m} (layer {LAYERS[layer_of(m)][0]}) imports {d} (layer {LAYERS[layer_of(d)][0]})'
           for m, deps in import_graph().items() for d in deps if layer_of(d) > layer_of(m)]
  assert not wrong, '\n'.join(wrong)


def test_every_module_has_a_layer():
  assert [m for m in import_graph() if layer_of(m) is None] == []


def test_source_files_stay_under_the_limit():
  files = list(_modules().values())
  for directory in ('configs', 'benchmarks', 'tests'):
    files += [os.path.join(ROOT, directory, f) for f in os.listdir(os.path.join(ROOT, directory))
              if f.endswith('.py')]
  long = {os.path.relpath(f, ROOT): n for f in files if (n := len(open(f).readlines())) > MAX_LINES}
  assert not long, f'over {MAX_LINES} lines: {long}'


@pytest.mark.parametrize('statement, heavy', [
    ('import emojax', ('jax', 'flax', 'orbax', 'tensorflow_datasets', 'grain', 'cv2')),
    ('import tfds_builders', ('orbax', 'grain', 'optax')),
])
def test_imports_stay_light(statement, heavy):
  script = f'{statement}; import sys; print(" ".join(sorted(sys.modules)))'
  loaded = set(subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                              check=True, cwd=ROOT).stdout.split())
  assert not [m for m in loaded if m.split('.')[0] in heavy]
