"""The prior's two compiled ancestral samplers, and the XLA batch buckets compiled so far.

`jit_compile="auto"` in `PixelCNNPrior.sample` answers from the XLA sampler
once it is compiled for a request's bucket of batch sizes, and from the graph
sampler until then while XLA compiles in a background thread, so that no call
waits for a compilation (`benchmarks/bench_prior.py` measures both).
"""

import atexit
import threading

import tensorflow as tf

# Batch sizes the XLA sampler is compiled for: a request is padded up to the
# next bucket and sliced, so that later batch sizes do not compile again;
# larger requests go in chunks of the largest.
SAMPLE_BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024)


class BucketedSampler:
    """A prior's two compiled samplers and the XLA buckets compiled so far.

    A plain object, not a Keras one: Keras would track functions and sets
    assigned to a model as model state.
    """

    def __init__(self, loop, positions):
        specs = [tf.TensorSpec([None, positions], tf.float32), tf.TensorSpec([], tf.float32),
                 tf.TensorSpec([None], tf.int32)]
        self.graph = tf.function(loop, input_signature=specs, autograph=False)
        self.xla = tf.function(loop, input_signature=specs, autograph=False, jit_compile=True)
        self.compiled = set()
        self.compiling = set()
        self.lock = threading.Lock()

    def __call__(self, noise, temperature, labels, jit_compile):
        if jit_compile is False:
            return self.graph(noise, temperature, labels)
        largest = SAMPLE_BUCKETS[-1]
        pieces, background = [], []
        for start in range(0, int(noise.shape[0]), largest):
            piece_noise, piece_labels = noise[start:start + largest], labels[start:start + largest]
            n = int(piece_noise.shape[0])
            bucket = next(b for b in SAMPLE_BUCKETS if b >= n)
            if jit_compile is True or bucket in self.compiled:
                pad = bucket - n
                grids = self.xla(tf.pad(piece_noise, [[0, pad], [0, 0]]), temperature,
                                 tf.pad(piece_labels, [[0, pad]]))[:n]
                self.compiled.add(bucket)
            else:
                grids = self.graph(piece_noise, temperature, piece_labels)
                background.append(bucket)
            pieces.append(grids)
        # Compile after this call's own work, so that the two do not share the CPU.
        for bucket in background:
            self._compile_in_background(bucket)
        return pieces[0] if len(pieces) == 1 else tf.concat(pieces, axis=0)

    def _compile_in_background(self, bucket):
        with self.lock:
            if bucket in self.compiled or bucket in self.compiling:
                return
            self.compiling.add(bucket)

        def compile_bucket():
            try:
                self.xla(tf.zeros([bucket, self.xla.input_signature[0].shape[1]]), tf.constant(1.0),
                         tf.zeros([bucket], tf.int32))
                with self.lock:
                    self.compiled.add(bucket)
            finally:
                with self.lock:
                    self.compiling.discard(bucket)

        thread = threading.Thread(target=compile_bucket, name=f"tfvae-xla-sampler-{bucket}", daemon=True)
        _BACKGROUND.append(thread)
        thread.start()


_BACKGROUND = []


@atexit.register
def _join_background_compilations():
    # A thread still inside TensorFlow when the interpreter tears down can crash the process.
    for thread in _BACKGROUND:
        thread.join(timeout=120)
