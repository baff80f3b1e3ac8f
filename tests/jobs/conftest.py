import pytest


@pytest.fixture
def probe_file(tmp_path):
    return tmp_path / "probe.log"
