"""The dense autoencoder estimator, for tables and vectors.

Its input part (:class:`~hourglass.estimators.inputs.RowsPart`) reads and checks the rows and
builds the dense network; its bottleneck part the plain code with its sparsity guards.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from hourglass.estimators.base import BaseAutoEncoder
from hourglass.estimators.constraints import parameter_constraints
from hourglass.estimators.params import store_parameters
from hourglass.estimators.persistence import register_estimator


@register_estimator
class AutoEncoder(BaseAutoEncoder):
    """A dense autoencoder for tables and vectors, as a scikit-learn transformer.

    Defined by the hyperparameters people talk about: code size, nodes per layer (the number
    of layers is the length of ``hidden_layers``), activation and loss. The decoder mirrors the
    encoder unless ``decoder_layers`` is given.

    Parameters
    ----------
    code_size : int, default=2
        Width of the bottleneck (must be smaller than the number of features).
    hidden_layers : tuple of int or 'auto', default='auto'
        Nodes per encoder layer, outermost first. 'auto': (256, 128), or (512, 256) for inputs
        of more than 512 features, where the wider layers learn more per second
        (:func:`~hourglass.estimators.inputs.rows.auto_hidden_layers`); (64, 32) where
        ``pca_path='auto'`` adds the PCA path for fewer than 100 training rows, whose correction
        a few dozen rows teach better to fewer units (not where a time budget adds it).
    decoder_layers : tuple of int or None, default=None
        Nodes per decoder layer, innermost first; ``None`` mirrors the encoder.
    activation : str, default='gelu'
        One of 'relu', 'leaky_relu', 'elu', 'gelu', 'silu', 'tanh', 'sigmoid', 'identity'.
    pca_path : bool or 'auto', default='auto'
        Add a fixed linear path beside the encoder's and the decoder's layers, set before
        training to PCA's projection and reconstruction at the same code size, with the layers'
        last weights at zero: training starts at PCA's solution and learns the non-linear
        correction (:mod:`hourglass.nn.pca_path`). 'auto' adds it to a plain autoencoder trained
        on fewer than 100 rows (after the validation split), in any units: there random weights
        rarely find PCA's subspace (on 19 small tables and splits of 20-90 rows, held-out error
        0.99x PCA's on geometric mean with the path, 1.22x without, and 4.3x at worst on 30 of
        iris's rows). From 100 rows on it is added only under a time budget (``max_time``) that
        is estimated to hold less than a quarter of the planned steps, half for data in [0, 1]
        (three steps of the plain network are timed first,
        :mod:`hourglass.estimators.pca_budget`): a run cut that hard is better off starting at
        PCA's (digits / 16 at 1 s: 0.40-0.79x the plain run's error).
        Otherwise it stays off there, where it measured worse on standardized tables and its
        codes, nearer PCA's, clustered worse on Fashion-MNIST (NMI 0.643-0.655 against 0.672);
        it stays off for ``partial_fit`` (a stream's first chunk), and where PCA is not the
        code asked for: binary cross-entropy, sparse, TopK and contractive codes, pretrained
        parts, fewer training rows than ``code_size + 1``. A ``warm_start`` fit keeps the choice
        of the fit it continues. ``pca_path_`` and ``history_.recipe['pca_path']`` say which and
        why. True asks for it on any data: on pixels it lowers the held-out error in less time
        (10,000 Fashion-MNIST images, a 30 s budget on one core: 7.47 squared error per image
        against 8.14-8.50 without it).
    loss : {'auto', 'mse', 'bce'}, default='auto'
        'auto' picks binary cross-entropy for binary data (every training value 0 or 1) and
        MSE otherwise, values in [0, 1] such as pixel intensities included, where MSE measured
        the lower held-out error (:func:`hourglass.train.losses.choose_loss`; the outputs are
        kept in [0, 1]); the choice and its reason are in ``loss_`` and ``loss_reason_``.
    scaling : {'auto', 'none', 'standard', 'minmax', 'shrunk'}, default='auto'
        Input scaling, fitted on the training split, undone on decode. 'auto' leaves data in
        [0, 1] as they are (pixels, shares) and standardizes anything else, and data in [0, 1]
        whose features all spread less than 0.1 (standard deviation), which the default noise
        and weights would swamp (:data:`hourglass.data.scaling.NARROW_SPREAD`); a constant
        feature is scaled like the others. 'shrunk' standardizes by the root of
        each feature's variance plus the mean variance, so that a near-constant feature is not
        blown up (for features in one shared unit, such as pixels;
        :func:`hourglass.data.scaling.shrunk_scale`).
    epochs : int or 'auto', default='auto'
        Maximum number of epochs. 'auto' caps the run at about 12,000 optimizer steps, between
        30 and 300 epochs (300 for digits' 1,400 training rows, 57 for Fashion-MNIST's 54,000 at
        the default batch; the cap is in ``epochs_``), and trains until learning stops gaining,
        then decays the rate and the noise (``history_.stop_reason`` says where it ended).
    max_time : float, str, timedelta, dict or None, default=None
        A time budget for ``fit``: seconds, a string such as ``'90s'``, ``'10min'``, ``'1.5h'``,
        or as Lightning takes it, a ``datetime.timedelta`` or a dict such as ``{'hours': 1}``.
        It counts the set-up before training (splitting and scaling the data, PCA at the same
        code size: ``history_.recipe['setup_seconds']``); the rate decay and the noise fade are
        laid over what is left, so the run ends at the budget with its best weights (and at
        ``epochs``, whichever comes first; at least one epoch). The held-out error measured
        after training is not counted. None: no limit. A budget that holds less than a quarter
        of the planned steps (half, for data in [0, 1]) adds the PCA path under
        ``pca_path='auto'``.
    threads : int or 'auto', default='auto'
        CPU threads for training and prediction. 'auto' counts the CPUs this process may use
        (its affinity and cgroup quota) that other processes are not keeping busy, at most as
        many as ``OMP_NUM_THREADS`` asks where it is set, and takes one for steps too small to
        share out; the number and why are in ``history_.recipe``. A number is used as it is,
        from 1 to the CPUs available.
    batch_size : int, default=256
    learning_rate : float or 'auto', default='auto'
        Peak learning rate of AdamW (warm-up, then cosine decay). 'auto' scales 1e-2 (right
        for layers of up to 256 units at batch 256) down in proportion to the widest layer, as
        Adam's effective step grows with a layer's fan-in, and by the square root of the batch
        size; the rate and its rule are in ``learning_rate_`` and ``history_.recipe``. Whatever
        the rate, a collapse during training (a NaN loss, or a validation loss climbing back
        toward that of predicting the mean) restarts from the best weights at a quarter of it
        (recorded in ``history_.restarts``).
    weight_decay : float, default=1e-2
        AdamW's decoupled weight decay (PyTorch's default; on digits it evens out the error
        across splits: at code 8 the worst of three splits is 0.398x PCA against 0.400x at 1e-4).
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping (0 trains on everything).
    patience : int, default=30
        Epochs without validation improvement before stopping (0: never stop early). With a
        fading noise, nothing stops before the noise is below a tenth of its level (before, the
        clean validation loss moves with the noise as much as with overfitting); from then on
        every epoch since the best counts, those of the fade included.
    random_state : int, RandomState or None, default=None
        Seed for weights, split, shuffling and noise; the same int gives the same weights on the
        CPU for the same ``threads`` and ``precision``: ``threads='auto'`` follows the machine's
        load and ``precision='auto'`` times bf16 once a process (on CPUs with native bf16, for
        large steps), so pass ``threads=N`` and a precision for bit-identical reruns. A
        ``max_time`` that ends the run (its stop reason names the budget) ends it at the step
        its seconds reach, which moves with the machine's speed and load: there the same seed
        gives other weights run to run; a budget that does not bind changes nothing. A
        RandomState is saved with a model as the int seed drawn from it (``seed_``).
    device : str, default='auto'
        'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'.
    precision : {'auto', 'fp32', 'tf32', 'bf16'}, default='auto'
        'auto' picks when training starts: bf16 autocast on CPUs with native bf16 (AVX-512 BF16
        or AMX) for steps of at least 100 MFLOP where its bf16 products time at least 1.3x
        fp32's, fp32 with TF32 matmuls on CUDA, fp32 elsewhere;
        the choice and its reason are in ``history_.recipe`` and the fit summary. 'bf16' trains
        under bf16 autocast; 'tf32' lets CUDA matmuls use TF32 tensor cores; 'fp32' is plain.
    compile : bool, default=False
        Train the module through ``torch.compile`` (fused kernels: pays on GPUs for long runs;
        the first epoch pays the compilation).
    checkpoint_dir : str or None, default=None
        Folder where a checkpoint is written atomically as training goes: after the first and the
        last epoch, and after each epoch that ends ten times a write's time after the last one
        (every epoch where epochs are long); ``fit(X, resume=True)`` continues from it.
    verbose : int, default=0
        1 shows a progress bar (quiet by default, as scikit-learn's estimators are).
    warm_start : bool, default=False
        ``fit`` continues from the weights (and scaler) of the previous ``fit`` instead of
        starting afresh, as scikit-learn's ``MLPRegressor(warm_start=True)`` does; the data must
        give the same architecture.
    callbacks : list or None, default=None
        Objects with ``on_epoch_end(estimator, epoch, logs)`` (or plain callables with that
        signature), called after every epoch with ``logs`` holding ``train_loss``, ``val_loss``,
        ``learning_rate`` and ``seconds``; returning True stops training. One that raises stops
        training with :class:`~hourglass.exceptions.CallbackError` (the checkpoint is kept).
    noise : {'gaussian', 'masking', 'salt_pepper'} or None, default='gaussian'
        Corrupt every training batch afresh and learn to give back the clean one (the denoising
        autoencoder). The default, Gaussian noise fading out over training, is a regularizer:
        on held-out digits it lowers the error at code 2 from 0.52x to 0.47x PCA's and at code
        8 from 0.42x to 0.39x (at code 16 it costs a little, 0.46x to 0.48x); None turns it off.
    noise_level : float, default=0.3
        The noise's standard deviation (gaussian, in the units the network sees, i.e. after
        ``scaling``) or the fraction of entries hit (masking, salt_pepper).
    noise_schedule : {'cosine', 'constant'}, default='cosine'
        'cosine' fades the noise from ``noise_level`` at the first epoch to none at the last
        (scheduled denoising): it regularizes early training and leaves a model trained on the
        clean inputs it will see; validation is on clean inputs. 'constant' keeps the noise
        (a denoising autoencoder proper), validated on noisy inputs.
    dropout : float, default=0.0
        Dropout rate after every hidden layer (training only).
    l1_penalty : float, default=0.0
        Weight of ``mean |code|``; on, it gives the code a ReLU so units can be exactly zero.
    kl_penalty : float, default=0.0
        Weight beta of the KL sparsity penalty ``sum_j KL(rho || rho_hat_j)``; on, it gives the code
        a sigmoid so ``rho_hat_j`` (unit j's mean activation) is a rate.
    sparsity_target : float, default=0.05
        The target rate rho of the KL penalty.
    topk : int or None, default=None
        Keep the ``topk`` largest code units per sample, zero the rest (Gao et al. 2024).
    topk_aux_penalty : float, default=1/32
        Weight of the TopK auxiliary loss (AuxK) that trains dead units on the residual.
    contractive_penalty : float, default=0.0
        Weight of the squared Frobenius norm of the encoder's Jacobian (contractive autoencoder).
    encoder : str, Path, torch.nn.Module or None, default=None
        A pretrained encoder: a saved hourglass model folder (whose layer sizes then define the
        encoder) or any module mapping (n, features) to (n, units). ``code_size`` must be the
        width of its code (a mismatch is refused, so ``get_params`` always tells the code the
        model uses; ``hourglass fit --encoder`` takes it from the folder). A model built on a
        module cannot be saved.
    freeze_encoder : bool, default=False
        Keep the pretrained encoder's weights fixed while the rest trains. A frozen encoder
        from a model folder also keeps that model's input scaling: ``scaler_`` is the source's
        (its features mean something in those units only; same columns required, and
        ``scaling`` 'auto' or the source's), so the same rows give the source's codes. Not
        frozen, the encoder is fine-tuned on a scaler fitted to the new data; a module has no
        scaler, so the new data's is fitted.
    decoder : str, Path, torch.nn.Module or None, default=None
        A pretrained decoder, as for ``encoder``.
    freeze_decoder : bool, default=False
        Keep the pretrained decoder's weights fixed.
    pretrain : {'layerwise'} or None, default=None
        Greedy layer-wise pretraining before fine-tuning the whole: each encoder layer and its
        mirror decoder layer train as a shallow autoencoder for ``max(1, epochs // 4)`` epochs.

    Attributes
    ----------
    module_ : hourglass.nn.model.AutoEncoder
        The trained PyTorch module.
    loss_, loss_reason_ : str
        The loss used and why.
    pca_path_ : bool
        Whether the network has the fixed PCA path (``pca_path``); ``pca_path_reason_`` says why.
    scaler_ : AffineScaler
        The fitted input scaling.
    history_ : History
        Per-epoch losses, learning rate and timings.
    n_features_in_ : int
    input_shape_ : tuple of int
        ``(n_features_in_,)``: one sample's shape, as every estimator of hourglass gives it.
    n_epochs_, n_iter_ : int
        Epochs run by the last fit; ``n_iter_`` adds those of the fits a warm start continued,
        as scikit-learn's MLP counts them.
    loss_curve_ : list of float
        The training loss after every epoch, over warm starts too (scikit-learn's MLP name).
    fit_seconds_ : float
        Seconds the last ``fit`` trained, layer-wise pretraining included (``partial_fit``: the
        sum of its passes').
    validation_mse_, validation_mse_scaled_ : float or None
        Mean squared reconstruction error per value on the validation split, in the data's
        units and in the model's (z-scores from the training rows for standardized data, the
        data's own for data in [0, 1]): the second is the headline, the first stands beside it.
    validation_pca_mse_ : float or None
        PCA's error on the same validation items, in the model's units, with as many components
        as the code (fitted on up to 10,000 training rows): ``validation_mse_scaled_ /
        validation_pca_mse_`` is the fit's error as a share of PCA's, which the command line's
        end-of-fit line states. None without a validation split
        (:func:`~hourglass.estimators.pca_baseline.baseline_pca`). The validation items also
        chose the epoch kept, and on a small table they are few (``history_.recipe
        ['validation_rows']``: wine's 18 read 0.61x where 36 unseen rows gave 0.80x); judge a
        small table with :func:`hourglass.compare`, which tests on rows training never saw.
    table_ : hourglass.data.table.TableSchema
        Only after fitting on a DataFrame (or a table through the CLI): the feature columns by
        name, with their dtypes, the label column and the dropped columns. ``transform`` and
        the other methods then take any DataFrame holding those columns, selected by name.
    data_range_ : tuple of float
        Smallest and largest scaled training value (salt-and-pepper noise writes them).
    training_data_fingerprint_ : dict
        Shape, dtype and hash of the data the last ``fit`` was given (training and validation
        rows), saved with the model: calibrating an :class:`~hourglass.AnomalyDetector` on that
        very data warns (:class:`~hourglass.exceptions.TrainingRowsWarning`). Absent from
        models saved before it was kept and from ones trained by ``partial_fit`` alone.

    Notes
    -----
    Overcomplete codes (``code_size`` at least the number of features) are allowed exactly when
    a sparsity guard (``l1_penalty``, ``kl_penalty`` or ``topk``) is on.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X = load_digits().data / 16
    >>> ae = AutoEncoder(code_size=8, random_state=0, verbose=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 8)
    >>> ae.loss_  # grey values in [0, 1], not binary: squared error (loss_reason_ says why)
    'mse'
    """

    #: Rows of a table (hourglass.estimators.inputs.RowsPart): arrays, DataFrames, large .npy
    #: memory maps and Datasets of rows, checked, scaled per feature, through a dense network.
    input_kind = "rows"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = parameter_constraints("dense")

    # The declaration in hourglass.estimators.params gives the same names, order, types and defaults
    # (tests/test_params.py); written out so that type checkers and IDEs read them.
    def __init__(
        self,
        code_size: int | None = 2,
        hidden_layers: tuple[int, ...] | str = "auto",
        decoder_layers: tuple[int, ...] | None = None,
        activation: str = "gelu",
        pca_path: bool | str = "auto",
        loss: str = "auto",
        scaling: str = "auto",
        epochs: int | str = "auto",
        max_time: float | str | datetime.timedelta | dict | None = None,
        threads: int | str = "auto",
        batch_size: int = 256,
        learning_rate: float | str = "auto",
        weight_decay: float = 0.01,
        validation_fraction: float = 0.1,
        patience: int = 30,
        random_state: Any = None,
        device: str = "auto",
        precision: str = "auto",
        compile: bool = False,
        checkpoint_dir: str | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        callbacks: Any = None,
        noise: str | None = "gaussian",
        noise_level: float = 0.3,
        noise_schedule: str = "cosine",
        dropout: float = 0.0,
        l1_penalty: float = 0.0,
        kl_penalty: float = 0.0,
        sparsity_target: float = 0.05,
        topk: int | None = None,
        topk_aux_penalty: float = 1 / 32,
        contractive_penalty: float = 0.0,
        encoder: Any = None,
        freeze_encoder: bool = False,
        decoder: Any = None,
        freeze_decoder: bool = False,
        pretrain: str | None = None,
    ) -> None:
        store_parameters(self, locals())


__all__ = ["AutoEncoder"]
