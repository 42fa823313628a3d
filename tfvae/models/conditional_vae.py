"""`ConditionalVAE`: a `VAE` that requires `num_classes` (kept so that its .keras files load)."""

import keras

from tfvae.models.vae import VAE


@keras.saving.register_keras_serializable(package="tfvae")
class ConditionalVAE(VAE):
    """`VAE(..., num_classes=num_classes)`: the conditional VAE under the name of tfvae 0.x.

    Everything is `VAE`'s (see its `num_classes` and `conditioning`
    arguments); this class only makes `num_classes` required and names the
    model "conditional_vae", so that code and `.keras` files written with it
    keep working.

    Args:
        encoder: as for `VAE` (with `conditioning="inputs"`, it takes the
            one-hot label as a second input).
        decoder: as for `VAE` (with `conditioning="inputs"`, it takes the
            one-hot label as a second input).
        num_classes: int >= 2. Labels are ints in [0, num_classes).
        **kwargs: the other arguments of `VAE` (likelihood, conditioning, ...).

    Example:

    >>> import keras, tfvae
    >>> x, y = tfvae.data.load_arrays("mnist", "train", binarize="dynamic", with_labels=True, limit=500)
    >>> cvae = tfvae.ConditionalVAE.mlp((28, 28, 1), latent_dim=2, hidden_units=(64,), num_classes=10, seed=0)
    >>> cvae.compile(keras.optimizers.Adam(1e-3))
    >>> history = cvae.fit(x, y, batch_size=100, epochs=1, verbose=0)
    >>> tuple(cvae.sample(4, labels=7, seed=0).shape)
    (4, 28, 28, 1)
    """

    def __init__(self, encoder, decoder, num_classes, **kwargs):
        kwargs.setdefault("name", "conditional_vae")
        super().__init__(encoder, decoder, num_classes=num_classes, **kwargs)
