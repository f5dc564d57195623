import no_such_module_in_pkg


def test_never():
    pass
