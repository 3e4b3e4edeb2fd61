"""Only what pyproject.toml cannot say: the wheel leaves out the package's test scaffolding."""

from setuptools import setup
from setuptools.command.build_py import build_py

# (package, module) pairs kept in the source tree for tests and benchmarks only
SCAFFOLDING = {("obview.tui", "fake_feed")}


class BuildPyWithoutScaffolding(build_py):
    def find_package_modules(self, package, package_dir):
        return [entry for entry in super().find_package_modules(package, package_dir)
                if (entry[0], entry[1]) not in SCAFFOLDING]


setup(cmdclass={"build_py": BuildPyWithoutScaffolding})
