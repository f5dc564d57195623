from test_base import TestBase


class TestDerived(TestBase):
    def test_more(self):
        assert True
