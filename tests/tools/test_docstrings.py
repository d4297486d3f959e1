"""Every public function, method and class of the documented packages has a docstring.

The packages are the ones whose functions others call across a boundary: the
queue's statements, the executors, baselayer's app code, the handlers and the
request/response schemas (``DOCUMENTED``). Read from the source (``ast``), so
nothing is imported.

Public means a name without a leading underscore, in a module, or in a public
class. Left out, on purpose:

- dunder methods (``__init__``, ``__repr__``...): the class docstring says what
  the constructor takes (numpydoc puts a class's parameters there);
- a marshmallow ``class Meta``: options, not an interface;
- a tiny property (its body one ``return`` statement) whose name its class's
  docstring mentions, as numpydoc's Attributes section does: a docstring
  saying again "the stdout file's path" on ``JobFiles.stdout`` would add
  nothing but length.

A handler method's docstring may be only the OpenAPI YAML after ``---``:
that YAML is its description (summary, parameters, responses), for people and
for the generated docs alike.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = [
    "shell_service/queue",
    "shell_service/executors",
    "shell_service/handlers",
    "shell_service/schemas.py",
    "baselayer/app",
]


def python_files() -> list[Path]:
    files: list[Path] = []
    for name in DOCUMENTED:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def is_tiny_property(node: ast.AST, class_doc: str) -> bool:
    """A ``@property`` whose body is one ``return`` and whose class docstring names it."""
    if not isinstance(node, ast.FunctionDef):
        return False
    decorators = {d.id for d in node.decorator_list if isinstance(d, ast.Name)}
    return (
        "property" in decorators
        and len(node.body) == 1
        and isinstance(node.body[0], ast.Return)
        and node.name in class_doc
    )


def undocumented(tree: ast.Module, path: str) -> list[str]:
    """``path:line name`` of each public definition in ``tree`` without a docstring."""
    missing = []

    def visit(parent: ast.AST, prefix: str, class_doc: str | None) -> None:
        for node in ast.iter_child_nodes(parent):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if node.name.startswith("_"):
                continue  # private, or a dunder method
            if isinstance(node, ast.ClassDef) and node.name == "Meta" and class_doc is not None:
                continue
            if class_doc is not None and is_tiny_property(node, class_doc):
                continue
            doc = ast.get_docstring(node)
            if not doc:
                missing.append(f"{path}:{node.lineno} {prefix}{node.name}")
            if isinstance(node, ast.ClassDef):
                visit(node, f"{prefix}{node.name}.", doc or "")

    visit(tree, "", None)
    return missing


def test_the_documented_packages_exist():
    """A package moved or renamed must be followed here, not silently skipped."""
    for name in DOCUMENTED:
        assert (ROOT / name).exists(), name
    assert len(python_files()) > 20


def test_every_public_function_method_and_class_has_a_docstring():
    missing = []
    for path in python_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        missing += undocumented(tree, str(path.relative_to(ROOT)))
    assert not missing, "no docstring (numpydoc style, see STYLE.md):\n" + "\n".join(missing)


def yaml_cut_off(doc: str) -> bool:
    """Whether apispec would start a handler's OpenAPI YAML early: it reads from the
    first line that starts with ``---``, so a numpydoc underline (``----------``)
    before the ``---`` marker would hand it prose."""
    stripped = [line.strip() for line in doc.splitlines()]
    if "---" not in stripped:
        return False
    return next(line for line in stripped if line.startswith("---")) != "---"


def test_openapi_yaml_follows_prose_without_underlines():
    """The prose before a handler method's ``---`` has no numpydoc section
    underlines: apispec would parse from the first of them and break the docs."""
    broken = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and yaml_cut_off(doc):
                    broken.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not broken, "a '---...' line before the OpenAPI '---':\n" + "\n".join(broken)


def test_the_check_finds_what_it_should():
    """The rules above, on a small module: what is reported and what is not."""
    source = '''
def documented():
    """Yes."""

def bare():
    pass

def _private():
    pass

class Files:
    """Paths: ``stdout``."""

    def __init__(self):
        pass

    @property
    def stdout(self):
        return 1

    @property
    def stderr(self):
        return 2

    async def get(self):
        pass

    class Meta:
        pass

class _Hidden:
    def method(self):
        pass
'''
    assert undocumented(ast.parse(source), "m.py") == [
        "m.py:5 bare",
        "m.py:22 Files.stderr",
        "m.py:25 Files.get",
    ]
    assert not yaml_cut_off("Read a job.\n\n---\nsummary: x")
    assert not yaml_cut_off("Parameters\n----------\nx : int")
    assert yaml_cut_off("Read a job.\n\nParameters\n----------\njob_id : str\n\n---\nsummary: x")
