"""What gradcheck-kit knows about torch, in one place.

Both halves read this table: the linter matches qualified names in source code, the runtime
checker matches module classes and reports saturation. Nothing here imports torch.

Names are *qualified* (``torch.nn.Tanh``), never the text that happens to be written in a file;
the linter resolves imports and aliases before it looks anything up here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Saturating:
    """A saturating activation and the largest value its derivative can take."""

    name: str  # short display name, e.g. "tanh"
    derivative_bound: float  # sup |phi'(x)|
    note: str = ""
    #: Per-layer multiplier of the gradient norm through Linear + this activation at PyTorch's
    #: default init (weight variance 1/(3 fan_in)), measured at width 256 and predicted by mean
    #: field (gradcheck_kit.theory). Where the bound alone says little (tanh' <= 1), this is
    #: what a layer typically does. None where not measured.
    default_init_gain: float | None = None


SIGMOID = Saturating("sigmoid", 0.25, "sigmoid'(x) = s(1 - s) <= 1/4", 0.141)
TANH = Saturating(
    "tanh", 1.0, "tanh'(x) = 1 - tanh^2 <= 1, and far less once units saturate", 0.576
)
HARDTANH = Saturating("hardtanh", 1.0, "zero outside [-1, 1]")
HARDSIGMOID = Saturating("hardsigmoid", 1.0 / 6.0, "slope 1/6 inside [-3, 3], zero outside")
SOFTSIGN = Saturating("softsign", 1.0, "1 / (1 + |x|)^2 decays quadratically")
LOGSIGMOID = Saturating("logsigmoid", 1.0, "1 - sigmoid(x), zero for large x")

#: nn.Module classes (qualified) -> activation.
SATURATING_MODULES: dict[str, Saturating] = {
    "torch.nn.Sigmoid": SIGMOID,
    "torch.nn.Tanh": TANH,
    "torch.nn.Hardtanh": HARDTANH,
    "torch.nn.Hardsigmoid": HARDSIGMOID,
    "torch.nn.Softsign": SOFTSIGN,
    "torch.nn.LogSigmoid": LOGSIGMOID,
}

#: Functions (qualified) -> activation.
SATURATING_FUNCTIONS: dict[str, Saturating] = {
    "torch.sigmoid": SIGMOID,
    "torch.tanh": TANH,
    "torch.special.expit": SIGMOID,
    "torch.nn.functional.sigmoid": SIGMOID,
    "torch.nn.functional.tanh": TANH,
    "torch.nn.functional.hardtanh": HARDTANH,
    "torch.nn.functional.hardsigmoid": HARDSIGMOID,
    "torch.nn.functional.softsign": SOFTSIGN,
    "torch.nn.functional.logsigmoid": LOGSIGMOID,
    "torch.sigmoid_": SIGMOID,
    "torch.tanh_": TANH,
    "torch.nn.functional.hardtanh_": HARDTANH,
}

#: Tensor methods -> activation (``x.tanh()``, ``x.sigmoid_()``).
SATURATING_METHODS: dict[str, Saturating] = {
    "sigmoid": SIGMOID,
    "sigmoid_": SIGMOID,
    "tanh": TANH,
    "tanh_": TANH,
}

#: Normalization module classes (qualified). Applying one resets a saturating run.
NORMALIZATION_MODULES: frozenset[str] = frozenset(
    f"torch.nn.{name}"
    for name in (
        "BatchNorm1d",
        "BatchNorm2d",
        "BatchNorm3d",
        "LazyBatchNorm1d",
        "LazyBatchNorm2d",
        "LazyBatchNorm3d",
        "SyncBatchNorm",
        "LayerNorm",
        "GroupNorm",
        "InstanceNorm1d",
        "InstanceNorm2d",
        "InstanceNorm3d",
        "LazyInstanceNorm1d",
        "LazyInstanceNorm2d",
        "LazyInstanceNorm3d",
        "RMSNorm",
        "LocalResponseNorm",
    )
)

#: Normalization functions (qualified).
NORMALIZATION_FUNCTIONS: frozenset[str] = frozenset(
    {
        "torch.nn.functional.batch_norm",
        "torch.nn.functional.layer_norm",
        "torch.nn.functional.group_norm",
        "torch.nn.functional.instance_norm",
        "torch.nn.functional.rms_norm",
        "torch.nn.functional.local_response_norm",
        "torch.batch_norm",
        "torch.layer_norm",
        "torch.group_norm",
        "torch.instance_norm",
        "torch.rms_norm",
    }
)

#: Functions that add their arguments (a residual connection when one argument is the input).
ADDITION_FUNCTIONS: frozenset[str] = frozenset({"torch.add", "operator.add"})

#: Layers with parameters that carry the signal forward (the "affine" layers of a stack).
AFFINE_MODULES: frozenset[str] = frozenset(
    f"torch.nn.{name}"
    for name in (
        "Linear",
        "LazyLinear",
        "Bilinear",
        "Conv1d",
        "Conv2d",
        "Conv3d",
        "ConvTranspose1d",
        "ConvTranspose2d",
        "ConvTranspose3d",
        "LazyConv1d",
        "LazyConv2d",
        "LazyConv3d",
        "Embedding",
    )
)

#: Recurrent modules of ``torch.nn``, by short name, in the order messages list them.
RECURRENT_MODULES: tuple[str, ...] = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")

#: Fused recurrent modules (``torch.nn.RNNBase``): the runtime checker measures the gradient
#: at every time step of their input sequence.
FUSED_RECURRENT_MODULES: tuple[str, ...] = ("RNN", "LSTM", "GRU")

#: Module classes (or base classes) that drop units or whole paths at random in train mode:
#: the runtime checker measures with them in eval mode (see runtime/harness.py).
STOCHASTIC_MODULES: frozenset[str] = frozenset(
    {
        "_DropoutNd",  # torch.nn.Dropout, Dropout1d/2d/3d, AlphaDropout, FeatureAlphaDropout
        "DropPath",  # timm, and most ViT/ConvNeXt/Swin code
        "StochasticDepth",  # torchvision
        "DropBlock2d",  # timm
        "DropBlock",
    }
)

#: Recurrent modules with gates or a cell state: their internal sigmoids/tanhs are gates.
GATED_RECURRENT_MODULES: frozenset[str] = frozenset(
    {"torch.nn.LSTM", "torch.nn.GRU", "torch.nn.LSTMCell", "torch.nn.GRUCell"}
)

#: Containers whose positional arguments run one after another.
SEQUENTIAL = "torch.nn.Sequential"
SEQUENTIAL_CONTAINERS: frozenset[str] = frozenset({SEQUENTIAL})


def third_party_sequential(qname: str) -> bool:
    """A class of a package the linter cannot read whose name says it is a Sequential
    (torchmeta's ``MetaSequential``): it runs its modules in order."""
    if qname.startswith(TORCH_NAMESPACE) or "." not in qname:
        return False
    short = qname.rsplit(".", 1)[-1]
    return short.endswith("Sequential")


#: Containers of modules that the forward pass iterates over (or indexes).
LIST_CONTAINERS: frozenset[str] = frozenset({"torch.nn.ModuleList"})
DICT_CONTAINERS: frozenset[str] = frozenset({"torch.nn.ModuleDict"})

#: The base class of every model.
MODULE_BASES: frozenset[str] = frozenset({"torch.nn.Module"})


#: Activation name -> its typical per-layer gradient gain at default init (see Saturating).
DEFAULT_INIT_GAIN: dict[str, float] = {
    act.name: act.default_init_gain for act in (SIGMOID, TANH) if act.default_init_gain is not None
}


#: PyTorch's default init of ``nn.Linear``/``nn.ConvNd`` weights: kaiming_uniform_(a=sqrt(5)),
#: U(+-1/sqrt(fan_in)), variance 1/(3 fan_in); biases U(+-1/sqrt(fan_in)), same variance.
DEFAULT_WEIGHT_VAR = 1.0 / 3.0

#: ``nn.init.calculate_gain(nonlinearity) ** 2`` (leaky_relu with its default slope 0.01).
KAIMING_GAIN2: dict[str, float] = {
    "relu": 2.0,
    "leaky_relu": 2.0 / (1 + 0.01**2),
    "tanh": 25 / 9,
    "sigmoid": 1.0,
    "linear": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "selu": 9 / 16,
}

#: ``torch.nn.init`` functions -> the weight variance they draw, as ``s_w^2`` = variance x
#: fan_in (what :mod:`gradcheck_kit.theory` calls ``weight_var``). ``n`` is the fan-in; a
#: fan-out the code does not state is taken equal to it (square layers).
INIT_WEIGHT_VAR: dict[str, str] = {
    "default": "1/3 (PyTorch's nn.Linear/nn.ConvNd init; biases var 1/(3 n))",
    "xavier_uniform_": "2 g^2 n / (fan_in + fan_out) = g^2 for square layers",
    "xavier_normal_": "2 g^2 n / (fan_in + fan_out) = g^2 for square layers",
    "kaiming_uniform_": "gain(nonlinearity, a)^2 (mode fan_in; fan_out: x fan_in/fan_out)",
    "kaiming_normal_": "gain(nonlinearity, a)^2 (mode fan_in; fan_out: x fan_in/fan_out)",
    "normal_": "std^2 n (+ mean^2 n)",
    "trunc_normal_": "std^2 n (the truncation at +-2 std is ignored)",
    "uniform_": "(a^2 + ab + b^2)/3 n",
    "orthogonal_": "g^2",
    "constant_": "(c n)^2 (rank one)",
    "ones_": "n^2 (rank one)",
}


def init_weight_var(
    fn: str,
    params: dict[str, object],
    fan_in: int | None,
    fan_out: int | None = None,
) -> float | None:
    """``s_w^2`` of ``torch.nn.init.<fn>`` with ``params`` (see :data:`INIT_WEIGHT_VAR`); None
    when the parameters or the fan the formula needs are unknown."""

    def num(key: str, default: float | None) -> float | None:
        value = params.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value)

    name = fn.rstrip("_")
    square = fan_out is None or fan_in is None
    if name in ("normal", "trunc_normal"):
        std, mean = num("std", 1.0), num("mean", 0.0)
        if std is None or mean is None or not fan_in:
            return None
        return (std**2 + mean**2) * fan_in
    if name == "uniform":
        a, b = num("a", 0.0), num("b", 1.0)
        if a is None or b is None or not fan_in:
            return None
        return (a * a + a * b + b * b) / 3 * fan_in  # E[w^2] of U(a, b)
    if name in ("constant", "ones"):
        value = 1.0 if name == "ones" else num("val", None)
        if value is None or not fan_in:
            return None
        return (value * fan_in) ** 2  # rank one: x |c| fan_in per layer
    if name in ("kaiming_normal", "kaiming_uniform"):
        nonlinearity = params.get("nonlinearity", "leaky_relu")
        a = num("a", 0.0) or 0.0
        mode = params.get("mode", "fan_in")
        gain2 = KAIMING_GAIN2.get(str(nonlinearity))
        if gain2 is None or mode not in ("fan_in", "fan_out"):
            return None
        if nonlinearity == "leaky_relu":
            gain2 = 2.0 / (1 + a**2)
        if mode == "fan_out" and not square:
            assert fan_in is not None and fan_out is not None
            gain2 *= fan_in / fan_out
        return gain2
    if name in ("xavier_normal", "xavier_uniform", "orthogonal"):
        gain = num("gain", 1.0)
        if gain is None:
            return None
        if name == "orthogonal" or square:
            return gain**2
        assert fan_in is not None and fan_out is not None
        return 2 * gain**2 * fan_in / (fan_in + fan_out)
    return None


#: Loss functions (short names) the linter recognises at a call; any ``*_loss`` is one too.
LOSS_FUNCTIONS: frozenset[str] = frozenset(
    {"cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits", "nll_loss",
     "mse_loss", "l1_loss", "kl_div", "cosine_embedding_loss"}
)  # fmt: skip

#: Losses that apply a squashing function to their input themselves (short name -> squashing).
LOGIT_LOSSES: dict[str, str] = {
    "binary_cross_entropy_with_logits": "sigmoid",
    "BCEWithLogitsLoss": "sigmoid",
    "cross_entropy": "softmax",
    "CrossEntropyLoss": "softmax",
}

#: Tensor methods and functions (short names) that squash their input; inside a loss's
#: argument they belong to the loss, not to the model.
SQUASHING: frozenset[str] = frozenset({"sigmoid", "tanh", "softmax", "log_softmax", "expit"})

#: ``nn.Module`` methods that return the module itself (``model.to(device)``).
# nn.Module's own API, as the interpreter reads it: method and attribute names.
MODULE_FORWARD = "forward"
MODULE_APPLY = "apply"  # fn applied to every submodule (an init loop)
MODULE_ALL = "modules"  # every submodule, recursively
MODULE_CHILDREN = "children"  # the direct submodules
MODULE_TREE_METHODS = (MODULE_CHILDREN, MODULE_ALL, MODULE_APPLY)
MODULE_REGISTRATION = ("add_module", "register_module")
PARAMETER_ATTRIBUTES = ("weight", "data")  # what an init call is made on
TENSOR_METADATA = ("shape", "ndim", "dtype", "device", "is_cuda")  # not data: no gradient path
TENSOR_VIEWS = ("T", "mT", "H", "real", "data")  # the same data, for the gradient path
#: every name above: the layout test keeps them out of the interpreter as literals
MODULE_API_NAMES = frozenset(
    {MODULE_FORWARD, *MODULE_TREE_METHODS, *MODULE_REGISTRATION, *PARAMETER_ATTRIBUTES}
    | set(TENSOR_METADATA)
)

RETURNS_SELF: frozenset[str] = frozenset(
    {"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "train", "eval", "type",
     "requires_grad_", "share_memory", "to_empty", "xpu", "mps"}
)  # fmt: skip

#: Callables (qualified) that wrap a module and return the same network.
MODULE_WRAPPERS: frozenset[str] = frozenset(
    {"torch.compile", "torch.jit.script", "torch.jit.trace", "torch.nn.DataParallel",
     "torch.nn.parallel.DistributedDataParallel", "torch.nn.parallel.DataParallel",
     "torch.nn.utils.weight_norm", "torch.nn.utils.spectral_norm",
     "torch.nn.utils.parametrizations.weight_norm",
     "torch.nn.utils.parametrizations.spectral_norm"}
)  # fmt: skip

#: Softmax modules (qualified) -> the activation's name.
SOFTMAX_MODULES: dict[str, str] = {
    "torch.nn.Softmax": "softmax",
    "torch.nn.LogSoftmax": "log_softmax",
}
#: Softmax functions and tensor methods (short names).
SOFTMAX_NAMES: tuple[str, ...] = ("softmax", "log_softmax")

#: Non-saturating activation modules (qualified) -> the name the gain model knows them by.
ACTIVATION_MODULES: dict[str, str] = {
    f"torch.nn.{name}": name.lower()
    for name in ("ReLU", "GELU", "SiLU", "ELU", "SELU", "LeakyReLU", "Mish", "Softplus", "ReLU6")
}
#: Non-saturating activation functions (qualified) -> name.
ACTIVATION_FUNCTIONS: dict[str, str] = {
    **{f"torch.nn.functional.{n}": n for n in ("relu", "gelu", "silu", "elu", "selu", "mish")},
    **{f"torch.{n}": n for n in ("relu", "selu")},
    "torch.nn.functional.leaky_relu": "leakyrelu",
    "torch.nn.functional.relu6": "relu6",
}
#: Tensor methods that apply ReLU.
RELU_METHODS: tuple[str, ...] = ("relu", "relu_")
#: Activations the mean-field theory knows under another name.
THEORY_NAMES: dict[str, str] = {
    "leakyrelu": "relu",
    "relu6": "relu",
    "mish": "silu",
    "softplus": "softplus",
}

#: Functions (qualified) that multiply or contract two tensors: a product, never a residual.
MULTIPLY_FUNCTIONS: frozenset[str] = frozenset(
    {"torch.mul", "torch.matmul", "torch.bmm", "torch.einsum"}
)
#: Functions (qualified) that join a list of tensors.
CONCAT_FUNCTIONS: frozenset[str] = frozenset({"torch.cat", "torch.stack", "torch.concat"})
#: Functions (qualified) that split a tensor into pieces (steps, when iterated).
SPLIT_FUNCTIONS: frozenset[str] = frozenset({"torch.unbind", "torch.split", "torch.chunk"})
#: Tensor methods: adding / multiplying two tensors, reading a number, splitting into steps.
ADDITION_METHODS: tuple[str, ...] = ("add", "add_", "sub", "sub_")
MULTIPLY_METHODS: tuple[str, ...] = ("mul", "mul_", "matmul", "bmm", "div", "div_")
SCALAR_METHODS: tuple[str, ...] = ("size", "dim", "numel", "item", "tolist")
SPLIT_METHODS: tuple[str, ...] = ("unbind", "split", "chunk")

#: Recurrent modules (qualified) with no gates: tanh by default (``nonlinearity=``, 4th).
PLAIN_RECURRENT_MODULES: frozenset[str] = frozenset({"torch.nn.RNN", "torch.nn.RNNCell"})
PLAIN_RECURRENT_DEFAULT = "tanh"

#: The namespace of initialisers (``torch.nn.init.xavier_normal_``) and of torch itself.
INIT_NAMESPACE = "torch.nn.init."
#: Where torch defines its layers (``torch.nn.modules.activation.Tanh`` is ``torch.nn.Tanh``).
NN_MODULES_PACKAGE = "torch.nn.modules"
NN_NAMESPACE = "torch.nn."
TORCH_NAMESPACE = "torch."
#: ``torch.nn.init.calculate_gain``: read as a number (:data:`KAIMING_GAIN2`).
INIT_GAIN_FUNCTION = "calculate_gain"
#: Positional parameters of ``torch.nn.init`` functions after the tensor.
INIT_PARAMS: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "std"),
    "trunc_normal": ("mean", "std"),
    "uniform": ("a", "b"),
    "constant": ("val",),
    "ones": (),
    "kaiming_normal": ("a", "mode", "nonlinearity"),
    "kaiming_uniform": ("a", "mode", "nonlinearity"),
    "xavier_normal": ("gain",),
    "xavier_uniform": ("gain",),
    "orthogonal": ("gain",),
}


def saturating_for(qualified_name: str) -> Saturating | None:
    """The saturating activation a qualified module or function name denotes, if any."""
    return SATURATING_MODULES.get(qualified_name) or SATURATING_FUNCTIONS.get(qualified_name)


def is_normalization(qualified_name: str) -> bool:
    return qualified_name in NORMALIZATION_MODULES or qualified_name in NORMALIZATION_FUNCTIONS


# --- training steps (GCK004, GCK007) -------------------------------------------------------
# What a training step is made of, by the method or function names the linter reads: the
# backward pass, the optimizer step, clipping, and the GradScaler's scale / unscale.

#: Methods that run the backward pass: ``loss.backward()``, ``accelerator.backward(loss)``,
#: ``fabric.backward(loss)``, Lightning's ``self.manual_backward(loss)``.
BACKWARD_METHODS: frozenset[str] = frozenset({"backward", "manual_backward"})
#: The optimizer's (and ``GradScaler``'s) method that applies the gradients.
STEP_METHOD = "step"
#: Methods that clear gradients.
ZERO_GRAD_METHODS: frozenset[str] = frozenset({"zero_grad"})
#: ``GradScaler.scale(loss)``: the backward of its result leaves scaled gradients.
SCALE_METHOD = "scale"
#: A call whose name contains this undoes the loss scale (``scaler.unscale_(optimizer)``,
#: ``accelerator.unscale_gradients()``).
UNSCALE_TOKEN = "unscale"
#: Gradient scalers (qualified).
GRAD_SCALERS: frozenset[str] = frozenset(
    {"torch.cuda.amp.GradScaler", "torch.amp.GradScaler", "torch.cpu.amp.GradScaler",
     "torch.amp.grad_scaler.GradScaler", "torch.cuda.amp.grad_scaler.GradScaler"}
)  # fmt: skip
#: A callable whose name contains both tokens clips gradients (``clip_grad_norm_``,
#: ``clip_grad_value_``, ``accelerator.clip_grad_norm_``, Lightning's ``clip_gradients``,
#: timm's ``dispatch_clip_grad``).
CLIP_TOKENS: tuple[str, str] = ("clip", "grad")
#: The clip a fix writes (GCK004), and the module method it clips the parameters of.
CLIP_GRAD_NORM = "torch.nn.utils.clip_grad_norm_"
PARAMETERS_METHOD = "parameters"
#: Clip-by-norm callables: their threshold is the second argument or ``max_norm=``.
CLIP_NORM_THRESHOLD: tuple[int, str] = (1, "max_norm")
#: Tensor methods that clamp a gradient in place (``p.grad.clamp_(-1, 1)``).
CLAMP_METHODS: frozenset[str] = frozenset({"clamp", "clamp_", "clip", "clip_"})
#: Names of infinity (``math.inf``, ``torch.inf``, ``np.inf``) and ``float("inf")``'s strings:
#: a clip at an infinite threshold only measures the norm.
INFINITY_NAMES: frozenset[str] = frozenset({"inf"})
INFINITY_STRINGS: frozenset[str] = frozenset({"inf", "+inf", "infinity", "+infinity"})
#: Optimizers and their learning-rate schedulers (qualified prefixes).
OPTIMIZER_NAMESPACE = "torch.optim."
SCHEDULER_NAMESPACE = "torch.optim.lr_scheduler."
#: Keywords that hand clipping to a framework (Lightning's ``Trainer``, Hugging Face's
#: ``TrainingArguments``).
FRAMEWORK_CLIP_KEYWORDS: frozenset[str] = frozenset({"gradient_clip_val", "max_grad_norm"})
#: Packages whose ``*Trainer`` / ``*TrainingArguments`` clip by default (at 1.0).
CLIPPING_TRAINER_PACKAGES: frozenset[str] = frozenset({"transformers", "trl"})
#: Lightning's module base class (qualified, under each name Lightning ships it).
LIGHTNING_MODULES: frozenset[str] = frozenset(
    {"lightning.LightningModule", "lightning.pytorch.LightningModule",
     "lightning.pytorch.core.LightningModule", "lightning.pytorch.core.module.LightningModule",
     "pytorch_lightning.LightningModule", "pytorch_lightning.core.LightningModule",
     "pytorch_lightning.core.module.LightningModule", "pytorch_lightning.core.lightning.LightningModule"}
)  # fmt: skip
#: The LightningModule hook whose loss Lightning backpropagates after it returns (under
#: automatic optimization), and the attribute that turns automatic optimization off.
LIGHTNING_TRAINING_STEP = "training_step"
#: The LightningModule hook that runs before each optimizer step, on unscaled gradients (the
#: place a GCK007 fix moves a clip out of ``training_step`` to).
LIGHTNING_BEFORE_STEP_HOOK = "on_before_optimizer_step"
LIGHTNING_AUTOMATIC_OPTIMIZATION = "automatic_optimization"
