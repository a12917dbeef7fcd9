

def test_atomic_files_get_the_mode_of_a_plain_open(tmp_path):
    import os
    import stat

    from har_utils.io import write_json_atomic

    umask = os.umask(0o022)
    try:
        p = write_json_atomic(tmp_path / "x.json", {"a": 1})
        plain = tmp_path / "plain"
        plain.write_text("x")
        assert stat.S_IMODE(p.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o644
    finally:
        os.umask(umask)
