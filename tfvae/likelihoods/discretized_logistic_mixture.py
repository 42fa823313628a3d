"""The discretised logistic mixture of PixelCNN++: a likelihood for 8-bit colour images."""

import keras
from keras import ops

from tfvae._checks import check_int, check_positive_int
from tfvae._input_checks import check_levels
from tfvae.likelihoods.likelihood import Likelihood

# PixelCNN++ bounds its log scales below at -7 (on data in [-1, 1]); on [0, 1] that is -7 - log 2.
MIN_LOG_SCALE = -7.7


def _log_sigmoid(t):
    return -ops.softplus(-t)


@keras.saving.register_keras_serializable(package="tfvae")
class DiscretizedLogisticMixture(Likelihood):
    """A mixture of discretised logistics per pixel, its channels autoregressive (Salimans et al., 2017).

    Each pixel of C channels (1 or 3) gets K components. Component k has a
    weight pi_k, and for channel c a location mu_kc and a scale s_kc; with
    colour, the locations of later channels move with the earlier channels'
    values: mu_k2 + a_k x_1 and mu_k3 + b_k x_1 + c_k x_2 (coefficients in
    (-1, 1) through tanh), so one pixel's channels are modelled jointly. Level
    v of the 256 levels of [0, 1] gets the logistic's mass on its bin of width
    1/255, the edge bins extended to infinity, so the masses sum to one and
    -log p is a bound on discrete data (bits per dimension are valid).

    The decoder gives `output_channels(C)` = K (1 + 2C + C (C - 1) / 2) values
    per pixel, in this order along the last axis: the K weight logits, then
    K x C locations, K x C log scales (bounded below by `min_log_scale`) and
    K x C (C - 1) / 2 raw coefficients (component-major).

    Masses are differences of sigmoids computed in log space on the side of
    the location where they are small (no fallback to the density is needed).

    Args:
        num_components: int >= 1 (PixelCNN++: 10 on CIFAR-10).
        num_bins: int >= 2. Levels of the data (256 for 8-bit images).
        min_log_scale: float. Lower bound of the log scales.

    Example:

    >>> import numpy as np, tfvae
    >>> lik = tfvae.likelihoods.DiscretizedLogisticMixture(num_components=2)
    >>> lik.output_channels(3)
    20
    >>> x = np.full((1, 2, 2, 3), 128 / 255, "float32")
    >>> nll = lik.negative_log_likelihood(x, np.zeros((1, 2, 2, 20), "float32"))
    >>> tuple(nll.shape)
    (1,)
    """

    name = "discretized_logistic_mixture"
    is_probability = True
    unit_range_only = True

    def __init__(self, num_components=5, num_bins=256, min_log_scale=MIN_LOG_SCALE):
        self.num_components = check_positive_int(num_components, "num_components")
        self.num_bins = check_int(num_bins, "num_bins", 2)
        self.min_log_scale = float(min_log_scale)

    @property
    def num_levels(self):
        return self.num_bins

    def output_channels(self, channels):
        """Decoder outputs per pixel for images of `channels` (1 or 3) channels."""
        if channels not in (1, 3):
            raise ValueError(f"The discretised logistic mixture models 1 or 3 channels; received channels={channels}.")
        return self.num_components * (1 + 2 * channels + channels * (channels - 1) // 2)

    def _channels_of(self, outputs):
        per = int(outputs.shape[-1])
        for c in (1, 3):
            if per == self.output_channels(c):
                return c
        raise ValueError(f"A {self.num_components}-component mixture needs {self.output_channels(1)} (grey) or "
                         f"{self.output_channels(3)} (colour) decoder outputs per pixel; received {per}.")

    def _split(self, outputs, channels):
        """`(logits (..., K), locations (..., K, C), log scales (..., K, C), coefficients (..., K, C(C-1)/2))`."""
        k = self.num_components
        o = ops.cast(outputs, "float32")
        lead = ops.shape(o)[:-1]
        logits = o[..., :k]
        locations = ops.reshape(o[..., k:k + k * channels], (*lead, k, channels))
        log_scales = ops.reshape(o[..., k + k * channels:k + 2 * k * channels], (*lead, k, channels))
        coeffs = ops.tanh(ops.reshape(o[..., k + 2 * k * channels:], (*lead, k, channels * (channels - 1) // 2)))
        return logits, locations, ops.maximum(log_scales, self.min_log_scale), coeffs

    @staticmethod
    def _shifted(locations, coeffs, values, channels):
        """Locations of each channel moved by the earlier channels' `values` `(..., 1, C)`."""
        if channels == 1:
            return locations
        m1 = locations[..., 0]
        m2 = locations[..., 1] + coeffs[..., 0] * values[..., 0]
        m3 = locations[..., 2] + coeffs[..., 1] * values[..., 0] + coeffs[..., 2] * values[..., 1]
        return ops.stack([m1, m2, m3], axis=-1)

    def _log_mass(self, x, locations, log_scales):
        """log P(level x) of each component and channel `(..., K, C)`."""
        half = 0.5 / (self.num_bins - 1)
        inv = ops.exp(-log_scales)
        hi = (x + half - locations) * inv
        lo = (x - half - locations) * inv
        log_first = _log_sigmoid(hi)  # x = 0: (-inf, half]
        log_last = _log_sigmoid(-lo)  # x = 1: [1 - half, inf)
        mirror = lo > 0  # above the location: use the mirrored, small tail
        top, bottom = ops.where(mirror, -lo, hi), ops.where(mirror, -hi, lo)
        delta = _log_sigmoid(bottom) - _log_sigmoid(top)  # < 0
        log_interior = _log_sigmoid(top) + ops.log(-ops.expm1(ops.minimum(delta, -1e-30)))
        first, last = x < half, x > 1.0 - half
        return ops.where(first, log_first, ops.where(last, log_last, log_interior))

    def negative_log_likelihood(self, x, outputs, log_scale=None):
        self._check_scale(log_scale)
        channels = self._channels_of(outputs)
        x = ops.cast(x, "float32")
        logits, locations, log_scales, coeffs = self._split(outputs, channels)
        values = x[..., None, :]  # (..., 1, C): each component sees the true earlier channels
        log_mass = self._log_mass(values, self._shifted(locations, coeffs, values, channels), log_scales)
        log_pixel = ops.logsumexp(ops.log_softmax(logits, axis=-1) + ops.sum(log_mass, axis=-1), axis=-1)
        return -ops.sum(ops.reshape(log_pixel, (ops.shape(x)[0], -1)), axis=-1)

    def mean(self, outputs, log_scale=None):
        """The mixture of the components' censored means, each channel at its component's earlier means.

        A component's channel is a logistic censored to [0, 1], with mean
        s (softplus(mu / s) - softplus((mu - 1) / s)); with colour, its later
        channels' locations take the earlier channels' means in place of their
        values. For grey images this is the expected image (within half a level
        of the discretised distribution's mean); for colour it is an
        approximation, since a later channel's mean is taken at the earlier
        channels' means rather than averaged over their values.
        """
        self._check_scale(log_scale)
        channels = self._channels_of(outputs)
        logits, locations, log_scales, coeffs = self._split(outputs, channels)
        scales = ops.exp(log_scales)

        def censored(mu, s):
            return s * (ops.softplus(mu / s) - ops.softplus((mu - 1.0) / s))

        means = []
        for c in range(channels):
            mu = locations[..., c]
            if c == 1:
                mu = mu + coeffs[..., 0] * means[0]
            elif c == 2:
                mu = mu + coeffs[..., 1] * means[0] + coeffs[..., 2] * means[1]
            means.append(censored(mu, scales[..., c]))
        weights = ops.softmax(logits, axis=-1)[..., None]
        return ops.clip(ops.sum(weights * ops.stack(means, axis=-1), axis=-2), 0.0, 1.0)

    def check_data(self, images, who):
        check_levels(images, self.num_bins, who)

    def get_config(self):
        return {"num_components": self.num_components, "num_bins": self.num_bins,
                "min_log_scale": self.min_log_scale}
