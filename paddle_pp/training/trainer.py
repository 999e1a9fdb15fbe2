"""One training loop for every model type (det, rec, cls), PaddleOCR 2.x ``tools/program.py`` semantics.

    trainer = Trainer(config)        # build: model, weights, loss, metric, loaders, optimizer + LR schedule
    summary = trainer.train()        # train steps, evaluations, checkpoints, until a stop rule says so

The parts: ``build`` (in the constructor), ``train_step`` (one batch), ``run_eval``, ``save`` and
``stop_reason``; ``train`` only strings them together. Extensions (QAT, pruning) plug in through hooks
(``training/hooks.py``) and never assign the trainer's attributes. A distillation model
(``Architecture.name: DistillationModel``) trains all its sub-models' outputs through the loss, while
evaluation uses ``inference_model`` (the student); each sub-model's ``pretrained`` weights are loaded here.

What differs between model types lives in the registered adapters (``training/adapters.py``); the loop only
calls the model, the loss, the optimizer and ``adapter.postprocess`` + metric at evaluation.

Global keys read here (optional ones with ``.get``): epoch_num, print_batch_step, log_smooth_window,
save_model_dir, save_epoch_step, eval_batch_step ([start, every] or every), checkpoints, pretrained_model,
model_name, seed, and the optional max_steps (stop after this many global steps), max_train_minutes (stop after
this much wall-clock training time), progress_bar (true/false; default: only on a terminal), overwrite (true:
replace the checkpoints another run left in save_model_dir; without it such a directory is refused unless
``checkpoints`` resumes from it).
"""
from __future__ import annotations

import copy
import datetime
import json
import math
import os
import sys
import time
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence

import numpy as np
import paddle

from paddle_pp.losses import build_loss
from paddle_pp.metrics import build_metric
from paddle_pp.modeling.architecture import build_model, inference_model
from paddle_pp.modeling.distillation import is_distillation, pretrained_sources
from paddle_pp.optim import build_optimizer, decay_table
from paddle_pp.utils.files import write_text_atomic

from .adapters import build_adapter
from paddle_pp.utils.safe_pickle import load_state_dict

from .checkpoint import (check_save_dir, get_rng_states, load_checkpoint, load_pretrained_weights,
                         remove_checkpoint, resolve_pretrained, save_checkpoint, seed_everything, set_rng_states,
                         source_global_config, strip_suffix, transfer_ctc_head)
from .hooks import Hook
from .logs import RunRecorder, SmoothedValue, get_logger


# ------------------------------------------------------------------------------------------------ distributed

def world_size() -> int:
    return int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))


def init_distributed() -> int:
    """Initialise the process group when launched with several processes; returns this process's rank."""
    if world_size() > 1:
        import paddle.distributed as dist

        if not dist.is_initialized():
            dist.init_parallel_env()
        return dist.get_rank()
    return 0


# ------------------------------------------------------------------------------------------------ batches

def to_tensors(batch: Mapping[str, Any]) -> Dict[str, Any]:
    """Numpy arrays become tensors; lists (det polygons) and tensors stay as they are."""
    out = {}
    for key, value in batch.items():
        out[key] = paddle.to_tensor(value) if isinstance(value, np.ndarray) else value
    return out


def batch_size_of(batch: Mapping[str, Any]) -> int:
    image = batch.get("image")
    return int(image.shape[0]) if image is not None else 0


def build_loader(config: Dict[str, Any], mode: str, seed: int, distributed: bool):
    from paddle_pp.data import build_dataloader

    return build_dataloader(config, mode, seed=seed, distributed=distributed)


def _set_loader_epoch(loader: Any, epoch: int) -> None:
    """Tell the loader's parts which epoch starts: the distributed sampler reshuffles with it, the dataset
    redraws its ratio_list sampling."""
    seen = set()
    for obj in (loader, getattr(loader, "batch_sampler", None), getattr(loader, "dataset", None)):
        if obj is not None and id(obj) not in seen and callable(getattr(obj, "set_epoch", None)):
            seen.add(id(obj))
            obj.set_epoch(epoch)


# ------------------------------------------------------------------------------------------------ evaluation

def evaluate(model: paddle.nn.Layer, loader: Iterable, adapter, metric, progress: bool = False) -> Dict[str, Any]:
    """Run ``model`` in eval mode over ``loader`` and return ``metric.get_metric()`` plus samples and seconds."""
    was_training = model.training
    model.eval()
    samples = 0
    start = time.time()
    iterator: Iterable = loader
    if progress:
        from tqdm import tqdm

        iterator = tqdm(loader, total=_safe_len(loader), desc="eval", leave=False, dynamic_ncols=True)
    with paddle.no_grad():
        for batch in iterator:
            batch = to_tensors(batch)
            outputs = model(batch["image"])
            preds, targets = adapter.postprocess(outputs, batch)
            metric(preds, targets)
            samples += batch_size_of(batch)
    result = dict(metric.get_metric())
    result["samples"] = samples
    result["seconds"] = round(time.time() - start, 3)
    if was_training:
        model.train()
    return result


def _safe_len(loader: Any) -> Optional[int]:
    try:
        return len(loader)
    except TypeError:
        return None


# ------------------------------------------------------------------------------------------------ weights

def pretrained_target(model: paddle.nn.Layer, path: str) -> paddle.nn.Layer:
    """Where a weights file goes: a distillation model takes a file of its own names (a distillation checkpoint)
    whole, and a plain model's file (``backbone...``) into its inference sub-model (the student)."""
    names = getattr(model, "names", None)
    if not names or model is inference_model(model):
        return model
    saved = load_state_dict(path)
    if any(key.split(".", 1)[0] in names for key in saved):
        return model
    return inference_model(model)


class _StepMeter:
    """Smoothed losses and reader / batch costs between two log lines."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.smoothed: Dict[str, SmoothedValue] = {}
        self.reset()

    def reset(self) -> None:
        self.reader_cost = self.batch_cost = 0.0
        self.samples = 0

    def add(self, values: Mapping[str, float], samples: int, reader_cost: float, batch_cost: float) -> None:
        for k, v in values.items():
            self.smoothed.setdefault(k, SmoothedValue(self.window)).update(v)
        self.samples += samples
        self.reader_cost += reader_cost
        self.batch_cost += batch_cost

    def averages(self) -> Dict[str, float]:
        return {k: v.avg for k, v in self.smoothed.items()}


# ------------------------------------------------------------------------------------------------ trainer

class Trainer:
    def __init__(self, config: Dict[str, Any], train_loader: Any = None, eval_loader: Any = None,
                 build_eval_loader: bool = True, hooks: Sequence[Hook] = ()) -> None:
        self.config = copy.deepcopy(config)
        self.hooks: List[Hook] = list(hooks)
        g = self.config["Global"]
        self.rank = init_distributed()
        self.world_size = world_size()
        self.is_main = self.rank == 0
        self.save_dir = str(g.get("save_model_dir") or "./output")
        self.run_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
        # Before anything is written: another run's checkpoints in save_dir are kept unless this run resumes
        # from them or is told Global.overwrite (train.py --overwrite).
        replaced = check_save_dir(self.save_dir, g.get("checkpoints"), bool(g.get("overwrite")))
        if self.is_main:
            os.makedirs(self.save_dir, exist_ok=True)
        self.log = get_logger(os.path.join(self.save_dir, "train.log") if self.is_main else None, self.rank)
        if replaced and self.is_main:
            for name in replaced:  # an old best_accuracy must not pass for this run's best
                remove_checkpoint(os.path.join(self.save_dir, name))
            self.log.warning("Global.overwrite: removed the checkpoints of an earlier run in %s: %s", self.save_dir,
                             ", ".join(replaced))
        self.seed = int(g.get("seed") or 0)
        # Same seed on every rank (identical initial weights); the data loader gets the rank via its sampler.
        seed_everything(self.seed)
        self.build(train_loader, eval_loader, build_eval_loader)

    # -------------------------------------------------------------------------------------------- build

    def build(self, train_loader: Any, eval_loader: Any, build_eval_loader: bool) -> None:
        """Model (+ pruned shapes, pre-trained weights), loss, metric, loaders; then the hooks' ``on_build``; then
        the optimizer over the parameters the model has by then; then the checkpoint to resume, if any."""
        self.adapter = build_adapter(self.config)
        self.adapter.prepare_config(self.config)
        self.model = build_model(self.config)
        self.pruned_shapes = self._apply_pruned_shapes()
        self.loss_fn = build_loss(self.config["Loss"])
        self.metric = build_metric(self.config["Metric"]) if self.config.get("Metric") else None
        self.main_indicator = getattr(self.metric, "main_indicator", None)
        self._build_loaders(train_loader, eval_loader, build_eval_loader)
        self._reset_state()

        resuming = self.resuming
        if not resuming:
            self.load_pretrained()
        if self.config["Global"].get("freeze_bn"):
            self.log.info("batch norm frozen (Global.freeze_bn): %d layers use their running statistics",
                          self._freeze_batch_norm())
        for hook in self.hooks:
            hook.on_build(self)
        self.optimizer, self.lr_scheduler = build_optimizer(self.config["Optimizer"], self.epoch_num,
                                                            self.steps_per_epoch, self.model)
        for hook in self.hooks:
            self.optimizer, self.lr_scheduler = hook.configure_optimizer(self, self.optimizer, self.lr_scheduler)
        if resuming:
            self._resume()

        self.train_model = paddle.DataParallel(self.model) if self.world_size > 1 else self.model
        self.recorder = RunRecorder(self.save_dir, self.run_id, enabled=self.is_main,
                                    main_indicator=self.main_indicator)
        if self.resumed_state:
            self.recorder.preload(self.log_files, self.global_step)
        self.log_files = self.log_files + [self.recorder.jsonl_path]

    @property
    def inference_model(self) -> paddle.nn.Layer:
        """What evaluation and export use: the model, or a distillation model's student."""
        return inference_model(self.model)

    def _build_loaders(self, train_loader: Any, eval_loader: Any, build_eval_loader: bool) -> None:
        distributed = self.world_size > 1
        self.train_loader = train_loader if train_loader is not None else build_loader(
            self.config, "Train", self.seed, distributed)
        # Every rank evaluates the whole Eval set and rank 0 alone records and saves: on CPU, Paddle's gloo
        # collectives give up after 30 s, so ranks idling in a barrier while rank 0 evaluated a detector crashed
        # the run at its first evaluation.
        self.eval_enabled = self.metric is not None and (
            eval_loader is not None or (build_eval_loader and bool(self.config.get("Eval"))))
        self.eval_loader = eval_loader
        if self.eval_loader is None and self.eval_enabled:
            self.eval_loader = build_loader(self.config, "Eval", self.seed, False)
        self.epoch_num = int(self.config["Global"].get("epoch_num") or 1)
        self.steps_per_epoch = len(self.train_loader)
        if self.steps_per_epoch == 0:
            raise ValueError("the training loader yields no batches (empty data set, or drop_last with fewer "
                             "samples than one batch)")

    def _reset_state(self) -> None:
        """The training state a checkpoint restores."""
        self.epoch = 1
        self.step_in_epoch = 0
        self.global_step = 0
        self.best_metric: Dict[str, Any] = {}
        self.epoch_rng: Optional[Dict[str, Any]] = None
        self.log_files: List[str] = []
        self.resumed_state: Optional[Dict[str, Any]] = None
        self._latest_step = -1

    def _apply_pruned_shapes(self) -> Optional[Dict[str, Any]]:
        """A pruned model (pruned_shapes.json beside the checkpoint or pre-trained weights) is rebuilt with its
        shapes before the optimizer sees it; the record is copied next to this run's checkpoints so that they
        resume and export the same way. Its names are the inference model's (a distillation run's student)."""
        from paddle_pp.weights import PRUNED_SHAPES, apply_pruned_shapes, pruned_shapes_beside

        g = self.config["Global"]
        source = g.get("checkpoints") or g.get("pretrained_model")
        record = None
        if source and not str(source).startswith("official"):
            record = pruned_shapes_beside(strip_suffix(str(source)) + ".pdparams")
        target = os.path.join(self.save_dir, PRUNED_SHAPES)
        if record is None:
            if self.is_main and os.path.isfile(target):
                os.remove(target)  # left by an earlier pruned run in this directory: not this model's shapes
            return None
        apply_pruned_shapes(self.inference_model, record)
        self.log.info("pruned model: %d parameters take the shapes of %s", len(record.get("parameters", {})),
                      PRUNED_SHAPES)
        if self.is_main:
            write_text_atomic(target, json.dumps(record, indent=1))
        return record

    def _resume(self) -> None:
        prefix = strip_suffix(self.config["Global"]["checkpoints"])
        state = load_checkpoint(prefix, self.model, self.optimizer)
        if state.get("lr_scheduler"):
            self.lr_scheduler.set_state_dict(state["lr_scheduler"])
        if state.get("steps_per_epoch") not in (None, self.steps_per_epoch):
            self.log.warning("checkpoint was written with %s steps per epoch, this run has %d: the epoch "
                             "position is approximate", state.get("steps_per_epoch"), self.steps_per_epoch)
        self.epoch = int(state.get("epoch", 1))
        self.step_in_epoch = int(state.get("step_in_epoch", 0))
        if self.step_in_epoch >= self.steps_per_epoch:
            self.epoch, self.step_in_epoch = self.epoch + 1, 0
        self.global_step = int(state.get("global_step", 0))
        self.best_metric = dict(state.get("best_metric", {}))
        self.epoch_rng = state.get("epoch_rng")
        self.log_files = list(state.get("log_files", []))
        self.resumed_state = state
        self.log.info("resumed from %s: epoch %d, step %d of the epoch, global step %d", prefix, self.epoch,
                      self.step_in_epoch, self.global_step)

    @property
    def resuming(self) -> bool:
        """Whether this run continues a checkpoint (Global.checkpoints): its weights come from there, not from
        the pre-trained ones."""
        return bool(self.config["Global"].get("checkpoints"))

    def load_pretrained(self) -> None:
        """Global.pretrained_model, then each distillation sub-model's own ``pretrained`` (e.g. the teacher)."""
        g = self.config["Global"]
        if g.get("pretrained_model"):
            path = resolve_pretrained(str(g["pretrained_model"]), g.get("model_name"))
            report = load_pretrained_weights(pretrained_target(self.model, path), path)
            self._log_pretrained(path, report)
        elif not is_distillation(self.config["Architecture"]):
            self.log.info("no pre-trained weights: training from scratch")
        for name, spec in pretrained_sources(self.config["Architecture"]).items():
            path = resolve_pretrained(spec, g.get("model_name"))
            report = load_pretrained_weights(self.model.sub_model(name), path)
            # The official detector has no threshold branch (training only): a frozen teacher never needs it.
            missing = [n for n in report["missing"] if not n.startswith("head.thresh.")]
            if report["shape_mismatch"] or missing:
                raise ValueError(f"Architecture.Models.{name}.pretrained {path} does not fit that sub-model: "
                                 f"{len(report['shape_mismatch'])} shape mismatches, missing {missing[:4]}")
            self.log.info("sub-model %s: weights %s (%d tensors)", name, path, len(report["loaded"]))

    def _log_pretrained(self, path: str, report: Dict[str, List[Any]]) -> None:
        self.log.info("pre-trained weights %s: %d tensors loaded", path, len(report["loaded"]))
        if report["shape_mismatch"]:
            self.log.info("skipped (shape differs, kept initialisation): %s", ", ".join(
                f"{n} {a}->{b}" for n, a, b in report["shape_mismatch"]))
            self._transfer_head(path, [n for n, _, _ in report["shape_mismatch"]])
        if report["missing"]:
            self.log.info("not in the file (kept initialisation): %d tensors, e.g. %s", len(report["missing"]),
                          ", ".join(report["missing"][:6]))
        if report["unexpected"]:
            self.log.info("in the file but not in the model (ignored): %s", ", ".join(report["unexpected"][:6]))

    def _freeze_batch_norm(self) -> int:
        """Global.freeze_bn: batch norms normalize with their running statistics in training too, and do not
        update them (their scale and shift still learn). For short fine-tuning and QAT of a trained model: a
        training batch's own statistics differ from the running ones (the official classifier drops from 0.92 to
        0.75 accuracy on the same augmented batch in train mode), so updating them moves the model away from
        what it was before any step."""
        frozen = 0
        for layer in self.model.sublayers(include_self=True):
            if isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
                layer._use_global_stats = True
                frozen += 1
        return frozen

    def _transfer_head(self, path: str, mismatched: List[str]) -> None:
        """A recognizer with a new dictionary: its CTC head starts from the pre-trained head's classes for the
        characters both dictionaries share (Global.transfer_ctc_head, default true)."""
        g = self.config["Global"]
        if self.config["Architecture"]["model_type"] != "rec" or not g.get("transfer_ctc_head", True) \
                or "head.fc.weight" not in mismatched:
            return
        source = source_global_config(str(g["pretrained_model"]), g.get("model_name"))
        if source is None:
            self.log.info("CTC head: the pre-trained dictionary is unknown, the new head starts from scratch")
            return
        model = self.inference_model
        moved = transfer_ctc_head(model, path, source, g)
        self.log.info("CTC head: %d of %d classes start from the pre-trained head's (same characters)", moved,
                      model.head.fc.weight.shape[1])

    # -------------------------------------------------------------------------------------------- saving

    def _state(self) -> Dict[str, Any]:
        return {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "steps_per_epoch": self.steps_per_epoch,
                "global_step": self.global_step, "best_metric": self.best_metric, "rng": get_rng_states(),
                "epoch_rng": self.epoch_rng, "lr_scheduler": self.lr_scheduler.state_dict(),
                "log_files": self.log_files, "world_size": self.world_size, "config": self.config,
                "saved_at": time.time()}

    def save(self, name: str) -> Optional[str]:
        if not self.is_main:
            return None
        prefix = save_checkpoint(os.path.join(self.save_dir, name), self.model, self.optimizer, self._state())
        if name == "latest":
            self._latest_step = self.global_step
        self.log.info("saved checkpoint %s", prefix)
        for hook in self.hooks:
            hook.on_save(self, prefix)
        return prefix

    def restore_best(self) -> bool:
        """Load this run's best checkpoint (by the Eval metric) into the model, when there is one."""
        path = os.path.join(self.save_dir, "best_accuracy.pdparams")
        if not os.path.isfile(path):
            return False
        self.model.set_state_dict(load_state_dict(path))
        return True

    # -------------------------------------------------------------------------------------------- evaluation

    def _eval_due(self) -> bool:
        spec = self.config["Global"].get("eval_batch_step")
        if spec is None or not self.eval_enabled:
            return False
        start, every = (0, int(spec)) if isinstance(spec, (int, float)) else (int(spec[0]), int(spec[1]))
        return every > 0 and self.global_step > start and (self.global_step - start) % every == 0

    def run_eval(self) -> Optional[Dict[str, Any]]:
        """Evaluate the inference model on the Eval loader; rank 0 records it and keeps the best checkpoint."""
        result = None
        if self.eval_loader is not None and self.metric is not None:
            result = evaluate(self.inference_model, self.eval_loader, self.adapter, self.metric,
                              progress=self._progress())
        if self.is_main and result is not None:
            self._record_eval(result)
        if result is not None:
            for hook in self.hooks:
                hook.on_evaluate(self, result)
        self._barrier()
        return result

    def _record_eval(self, result: Dict[str, Any]) -> None:
        main = self.main_indicator
        improved = main in result and (not self.best_metric or result[main] > self.best_metric.get(main, -1))
        if improved:
            self.best_metric = {k: v for k, v in result.items()}
            self.best_metric.update(step=self.global_step, epoch=self.epoch)
        self.recorder.add({"type": "eval", "step": self.global_step, "epoch": self.epoch,
                           **{k: v for k, v in result.items()}, "best": bool(improved)})
        self.log.info("eval at step %d: %s", self.global_step, _fmt_metrics(result))
        if improved:
            self.save("best_accuracy")
        best = {k: v for k, v in self.best_metric.items() if k not in ("samples", "seconds")}
        self.log.info("best so far: %s", _fmt_metrics(best))
        self.recorder.plot()

    # -------------------------------------------------------------------------------------------- stop rules

    def stop_reason(self, start_time: float) -> Optional[str]:
        """'max_steps' or 'max_train_minutes' once that limit is reached (every rank stops at the same step)."""
        g = self.config["Global"]
        max_steps = g.get("max_steps")
        if max_steps and self.global_step >= int(max_steps):
            return "max_steps"
        minutes = g.get("max_train_minutes")
        if minutes:
            flag = 1.0 if (time.time() - start_time) / 60.0 >= float(minutes) else 0.0
            if self.world_size > 1:  # every rank must stop at the same step: rank 0's clock decides
                import paddle.distributed as dist

                t = paddle.to_tensor([flag if self.is_main else 0.0])
                dist.all_reduce(t)
                flag = float(t.numpy()[0])
            if flag > 0:
                return "max_train_minutes"
        return None

    # -------------------------------------------------------------------------------------------- loop

    def _progress(self) -> bool:
        flag = self.config["Global"].get("progress_bar")
        if flag is None:
            return self.is_main and sys.stderr.isatty()
        return self.is_main and bool(flag)

    def _barrier(self) -> None:
        if self.world_size > 1:
            import paddle.distributed as dist

            dist.barrier()

    def _epoch_batches(self) -> Iterator[Any]:
        """The current epoch's batches, from ``step_in_epoch`` on (exactly the rest of an interrupted epoch)."""
        skip = self.step_in_epoch
        resume_rng = None
        if skip and self.epoch_rng is not None:
            resume_rng = get_rng_states()
            set_rng_states(self.epoch_rng)  # same shuffle and worker seeds as the interrupted epoch
        elif not skip:
            self.epoch_rng = get_rng_states()
        _set_loader_epoch(self.train_loader, self.epoch)
        iterator = iter(self.train_loader)
        if skip:
            self.log.info("skipping the %d batches of epoch %d done before the checkpoint", skip, self.epoch)
            for _ in range(skip):
                next(iterator)
            if resume_rng is not None:
                set_rng_states(resume_rng)
        return iterator

    def train_step(self, batch: Mapping[str, Any]) -> Dict[str, float]:
        """Forward, loss, backward, optimizer and LR step on one batch; returns the loss values."""
        preds = self.train_model(batch["image"])
        losses = self.loss_fn(preds, batch)
        losses["loss"].backward()
        self.optimizer.step()
        self.optimizer.clear_grad()
        self.lr_scheduler.step()
        self.global_step += 1
        self.step_in_epoch += 1
        values = {k: float(v) for k, v in losses.items()}
        if not math.isfinite(values["loss"]):
            raise FloatingPointError(f"loss is {values['loss']} at step {self.global_step}: {_fmt_metrics(values)}")
        return values

    def train(self) -> Dict[str, Any]:
        """Epochs of train steps, with evaluations and checkpoints, until the epochs end or a stop rule fires."""
        self._log_start()
        meter = _StepMeter(int(self.config["Global"].get("log_smooth_window") or 20))
        stop_reason = None
        last_eval_step = -1
        start_time = time.time()
        self.train_model.train()
        while self.epoch <= self.epoch_num and stop_reason is None:
            stop_reason, evaluated_at = self._train_epoch(meter, start_time)
            last_eval_step = max(last_eval_step, evaluated_at)
            if stop_reason is None:
                self._end_epoch()
        if self.epoch > self.epoch_num:  # keep the saved position inside the last epoch
            self.epoch, self.step_in_epoch = self.epoch_num, self.steps_per_epoch
        summary = self._finish(stop_reason, last_eval_step)
        for hook in self.hooks:
            hook.on_train_end(self, summary)
        return summary

    def _log_start(self) -> None:
        max_steps = self.config["Global"].get("max_steps")
        if self.resumed_state and self.resumed_state.get("rng"):
            set_rng_states(self.resumed_state["rng"])
        self.log.info("training %s: %d epochs x %d steps per epoch%s, world size %d, %d parameters", self.config[
            "Architecture"]["model_type"], self.epoch_num, self.steps_per_epoch,
            f" (stopping at step {max_steps})" if max_steps else "", self.world_size,
            sum(int(np.prod(p.shape)) for p in self.model.parameters()))
        self._log_dropped_labels(at_start=True)
        own = {k: v for k, v in decay_table(self.model, self.config["Optimizer"]).items() if v[0] == "param"}
        if own:
            self.log.info("parameters with their own weight decay (not Optimizer.regularizer): %s",
                          ", ".join(f"{k}={v[1]:g}" for k, v in own.items()))

    def _train_epoch(self, meter: _StepMeter, start_time: float):
        """The rest of the current epoch; returns (stop reason or None, step of the last evaluation or -1)."""
        print_every = max(1, int(self.config["Global"].get("print_batch_step") or 10))
        bar = self._epoch_bar()
        stop_reason, evaluated_at = None, -1
        tick = time.time()
        for batch in self._epoch_batches():
            reader_cost = time.time() - tick
            batch = to_tensors(batch)
            lr = float(self.optimizer.get_lr())
            values = self.train_step(batch)
            meter.add(values, batch_size_of(batch) * self.world_size, reader_cost, time.time() - tick)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{meter.smoothed['loss'].avg:.4f}", lr=f"{lr:.2e}")
            if self.global_step % print_every == 0 or self.step_in_epoch == self.steps_per_epoch:
                self._log_train(meter, lr, values, print_every)
            for hook in self.hooks:
                hook.on_step_end(self, values)
            if self._eval_due():
                self.run_eval()
                evaluated_at = self.global_step
            stop_reason = self.stop_reason(start_time)
            if stop_reason:
                break
            tick = time.time()
        if bar is not None:
            bar.close()
        return stop_reason, evaluated_at

    def _epoch_bar(self):
        if not self._progress():
            return None
        from tqdm import tqdm

        return tqdm(total=self.steps_per_epoch, initial=self.step_in_epoch, dynamic_ncols=True,
                    desc=f"epoch {self.epoch}/{self.epoch_num}", leave=False)

    def _log_train(self, meter: _StepMeter, lr: float, values: Mapping[str, float], print_every: int) -> None:
        """One log line and one point of the training curve, over the steps since the last one."""
        max_steps = self.config["Global"].get("max_steps")
        total_steps = self.epoch_num * self.steps_per_epoch
        if max_steps:
            total_steps = min(total_steps, int(max_steps))
        steps_done = self.global_step % print_every or print_every
        ips = meter.samples / meter.batch_cost if meter.batch_cost > 0 else 0.0
        eta = datetime.timedelta(seconds=int(meter.batch_cost / steps_done * (total_steps - self.global_step)))
        averages = meter.averages()
        self.recorder.add({"type": "train", "step": self.global_step, "epoch": self.epoch, "lr": lr, **averages,
                           "raw_loss": values["loss"], "samples_per_sec": round(ips, 3)})
        self.log.info("epoch: [%d/%d], global_step: %d, lr: %.6f, %s, avg_reader_cost: %.5f s, "
                      "avg_batch_cost: %.5f s, ips: %.2f samples/s, eta: %s", self.epoch, self.epoch_num,
                      self.global_step, lr, _fmt_metrics(averages), meter.reader_cost / steps_done,
                      meter.batch_cost / steps_done, ips, eta)
        meter.reset()

    def _end_epoch(self) -> None:
        self._log_dropped_labels()
        self.save("latest")
        save_epoch_step = self.config["Global"].get("save_epoch_step")
        if save_epoch_step and self.epoch % int(save_epoch_step) == 0:
            self.save(f"iter_epoch_{self.epoch}")
        self.epoch += 1
        self.step_in_epoch = 0

    def _finish(self, stop_reason: Optional[str], last_eval_step: int) -> Dict[str, Any]:
        # `latest` first: the final evaluation must not be part of the state a longer run would resume from.
        if self._latest_step != self.global_step:
            self.save("latest")
        final_eval = None
        if last_eval_step != self.global_step and self.eval_enabled:
            final_eval = self.run_eval()
        if self.is_main:
            self.recorder.plot()
        self._check_ranks_in_sync()
        best = {k: v for k, v in self.best_metric.items() if k not in ("samples", "seconds")}
        self.log.info("training done at global step %d (%s); best: %s", self.global_step,
                      stop_reason or "all epochs", _fmt_metrics(best) if best else "n/a")
        return {"global_step": self.global_step, "epoch": self.epoch, "stop_reason": stop_reason or "epochs",
                "best_metric": self.best_metric, "final_eval": final_eval,
                "log_file": self.recorder.jsonl_path, "plot": self.recorder.plot_path}

    def _check_ranks_in_sync(self) -> None:
        """Data parallel: every rank must end with the same trainable parameters (BN statistics are per rank)."""
        if self.world_size <= 1:
            return
        import paddle.distributed as dist

        checksum = 0.0
        for _, p in sorted(self.model.named_parameters()):
            if not p.stop_gradient:
                checksum += float(np.abs(p.numpy().astype(np.float64)).sum())
        gathered: List[paddle.Tensor] = []
        dist.all_gather(gathered, paddle.to_tensor([checksum], dtype="float64"))
        values = [float(t.numpy()[0]) for t in gathered]
        if len(set(values)) == 1:
            self.log.info("trainable parameters identical on all %d ranks (checksum %.6f)", len(values), values[0])
        else:
            self.log.warning("trainable parameters differ between ranks: checksums %s", values)

    def _log_dropped_labels(self, at_start: bool = False) -> None:
        """Labels the dataset removed up front (once, at the start) and samples that failed to load so far."""
        dataset = getattr(self.train_loader, "dataset", None)
        if dataset is None:
            return
        if at_start:
            dropped = getattr(dataset, "dropped_labels", None)
            if dropped:
                summary = dataset.drop_summary() if callable(getattr(dataset, "drop_summary", None)) else dropped
                self.log.info("training labels dropped by the data pipeline: %s", summary)
        bad = dataset.bad_samples() if callable(getattr(dataset, "bad_samples", None)) else None
        if bad and sum(bad.values()):  # {'failed': n (unreadable), 'rejected': m (an operator refused it)}
            self.log.warning("training samples unusable so far (each replaced by another): %s",
                             ", ".join(f"{k} {v}" for k, v in bad.items()))


def _fmt_metrics(values: Mapping[str, Any]) -> str:
    parts = []
    for k, v in values.items():
        if isinstance(v, float):
            parts.append(f"{k}: {v:.6f}" if abs(v) < 1e4 else f"{k}: {v:.4g}")
        else:
            parts.append(f"{k}: {v}")
    return ", ".join(parts)
