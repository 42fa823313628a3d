"""tfvae/__init__.py: the public API a plain `import tfvae` gives."""

from tests.helpers import run_python


def test_import_tfvae_gives_the_whole_public_api():
    out = run_python("""
        import tfvae
        missing = [name for name in tfvae.__all__ if not hasattr(tfvae, name)]
        assert not missing, missing
        # Docstrings and the README refer to these through the package alone.
        print(tfvae.callbacks.BetaSchedule.__name__, tfvae.callbacks.EpochCheckpoint.__name__)
    """)
    assert out.split() == ["BetaSchedule", "EpochCheckpoint"]
