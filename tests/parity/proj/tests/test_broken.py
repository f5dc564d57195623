import no_such_module_for_parity


def test_y():
    pass
