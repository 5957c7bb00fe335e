"""Build step that pyproject.toml cannot express: install ``tracejit_autostart.pth``.

The one line below goes into site-packages, where Python's ``site`` module
runs it at every start-up: it reads one environment variable and, only when
``TRACEJIT`` is set (and not "0"), imports tracejit and switches the JIT on
(tracejit.cli.autostart).  Unset, it costs a dict lookup.

It is written by ``build_py`` into the wheel's root, for ``pip install .``
and built wheels; for editable installs (``pip install -e .``) setuptools
assembles the wheel from its "unpacked" folder instead, which is the
``install`` command's ``install_lib`` there, so the file goes there.  (A
``data_files`` entry cannot do this: it lands relative to ``sys.prefix``,
not in site-packages.)  The name sorts after setuptools' ``__editable__``
files and after other ``tracejit-*.pth`` path files (such as the PeachPy
path written by scripts/setup.sh), so those are on ``sys.path`` first.
"""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = "tracejit_autostart.pth"
PTH_LINE = ('import os; os.environ.get("TRACEJIT", "0") not in ("", "0") '
            'and __import__("tracejit.cli").cli.autostart()\n')


class build_py_with_pth(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            target = self.get_finalized_command("install").install_lib
        else:
            target = self.build_lib
        os.makedirs(target, exist_ok=True)
        with open(os.path.join(target, PTH_NAME), "w", encoding="utf-8") as f:
            f.write(PTH_LINE)

    def get_outputs(self, include_bytecode=1):
        outputs = super().get_outputs(include_bytecode)
        if not getattr(self, "editable_mode", False):
            outputs.append(os.path.join(self.build_lib, PTH_NAME))
        return outputs


setup(cmdclass={"build_py": build_py_with_pth})
