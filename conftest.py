"""pytest hooks: nbval compares the notebook's text outputs but not stderr (progress bars, warnings)."""


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
