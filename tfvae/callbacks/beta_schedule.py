"""A schedule for the KL weight of Gaussian VAEs."""

import keras


class BetaSchedule(keras.callbacks.Callback):
    """Sets a VAE's KL weight (`model.kl_beta`) from a schedule before each epoch or step.

    KL warm-up (Bowman et al., 2016; Sønderby et al., 2016) and beta-VAE
    (Higgins et al., 2017) schedules: the objective is reconstruction +
    beta_t * KL while the reported `loss` stays the true -ELBO.

    Args:
        schedule: callable. int -> float >= 0: beta for an epoch (or a step).
        per_step: bool. Call the schedule with the global step before every
            batch instead of with the epoch before every epoch. Needs one step
            per execution (`compile`'s default): a model compiled with
            `steps_per_execution` above 1 is refused.

    Example:

    >>> warmup = BetaSchedule(lambda epoch: min(1.0, epoch / 10))
    >>> vae.fit(data, epochs=50, callbacks=[warmup])
    """

    def __init__(self, schedule, per_step=False):
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"`schedule` must be callable; received schedule={schedule!r}.")
        self.schedule = schedule
        self.per_step = bool(per_step)

    def _set(self, t):
        beta = float(self.schedule(int(t)))
        if not beta >= 0:
            raise ValueError(f"BetaSchedule: the schedule gave beta={beta} at {t}; expected a number >= 0.")
        if not hasattr(self.model, "kl_beta"):
            raise ValueError(f"BetaSchedule needs a tfvae VAE; received {type(self.model).__name__}.")
        self.model.kl_beta.assign(beta)

    def on_train_begin(self, logs=None):
        steps = getattr(self.model, "steps_per_execution", 1)
        if self.per_step and steps != 1:
            raise ValueError(f"BetaSchedule(per_step=True) sets beta before every step, but the model runs "
                             f"steps_per_execution={steps} steps per call; compile it with "
                             "steps_per_execution=1 (the default).")

    def on_epoch_begin(self, epoch, logs=None):
        if not self.per_step:
            self._set(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.per_step:
            self._set(int(self.model.optimizer.iterations.numpy()))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["beta"] = float(self.model.kl_beta.numpy())
