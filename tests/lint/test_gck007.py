"""GCK007 clip-has-no-effect: clipping before backward, after the step, on AMP-scaled
gradients - and the correct training loops it must leave alone (issue 19).

Each source marks the clip calls that must be flagged with ``# BAD``; every other line must stay
clean. The loops are written in the style of pytorch/examples, the torchvision and timm
reference scripts, Hugging Face's accelerate examples and Lightning modules.
"""

from __future__ import annotations

import ast
import textwrap

import pytest

from gradcheck_kit import lint_source
from gradcheck_kit.config import Config
from gradcheck_kit.lint.rules import RULES
from gradcheck_kit.lint.rules.gck007_clip_has_no_effect import clips_and_trains
from gradcheck_kit.report.findings import Finding

SELECT = Config(select=("GCK007",))


def run(src: str) -> list[Finding]:
    return [f for f in lint_source(textwrap.dedent(src), "train.py", SELECT) if f.code == "GCK007"]


def flagged(src: str) -> list[int]:
    return sorted(f.line for f in run(src))


def marked(src: str) -> list[int]:
    lines = textwrap.dedent(src).splitlines()
    return [i for i, line in enumerate(lines, 1) if line.rstrip().endswith("# BAD")]


# --- positives: (source, what the message says) ----------------------------------------------

POSITIVES: dict[str, tuple[str, str]] = {
    "clip_before_backward": (
        """
        import torch
        from torch.nn.utils import clip_grad_norm_

        def train(model, loader, epochs):
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            criterion = torch.nn.CrossEntropyLoss()
            for epoch in range(epochs):
                for data, target in loader:
                    optimizer.zero_grad()
                    clip_grad_norm_(model.parameters(), 0.25)  # BAD
                    output = model(data)
                    loss = criterion(output, target)
                    loss.backward()
                    optimizer.step()
        """,
        "runs before loss.backward()",
    ),
    "clip_after_step": (
        """
        import torch
        import torch.nn as nn

        def train_epoch(model, loader, optimizer, device):
            model.train()
            for batch_idx, (data, target) in enumerate(loader):
                data, target = data.to(device), target.to(device)
                optimizer.zero_grad()
                loss = nn.functional.nll_loss(model(data), target)
                loss.backward()
                optimizer.step()
                nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # BAD
                if batch_idx % 10 == 0:
                    print(loss.item())
        """,
        "after optimizer.step()",
    ),
    "amp_without_unscale": (
        """
        import torch

        def train_one_epoch(model, criterion, optimizer, loader, device, clip_grad=1.0):
            scaler = torch.cuda.amp.GradScaler()
            for image, target in loader:
                image, target = image.to(device), target.to(device)
                with torch.autocast("cuda"):
                    loss = criterion(model(image), target)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad)  # BAD
                scaler.step(optimizer)
                scaler.update()
        """,
        "scaler.unscale_(optimizer)",
    ),
    "amp_accumulation_without_unscale": (
        """
        import torch
        from torch.amp import GradScaler

        def train(model, loader, opt, accum_steps=8):
            grad_scaler = GradScaler("cuda")
            for step, (x, y) in enumerate(loader):
                with torch.autocast(device_type="cuda", dtype=torch.float16):
                    loss = model(x, labels=y).loss / accum_steps
                grad_scaler.scale(loss).backward()
                if (step + 1) % accum_steps == 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # BAD
                    grad_scaler.step(opt)
                    grad_scaler.update()
                    opt.zero_grad()
        """,
        "loss scale",
    ),
    "accumulation_clip_after_periodic_step": (
        """
        import torch

        def train(model, loader, optimizer, scheduler, accumulation_steps=4):
            model.train()
            for i, batch in enumerate(loader):
                loss = model(**batch).loss / accumulation_steps
                loss.backward()
                if (i + 1) % accumulation_steps == 0:
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # BAD
        """,
        "after optimizer.step()",
    ),
    "clip_before_a_helper_that_trains": (
        """
        import torch

        def backward_and_step(loss, optimizer):
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        def fit(model, loader, optimizer):
            for x, y in loader:
                loss = torch.nn.functional.mse_loss(model(x), y)
                torch.nn.utils.clip_grad_value_(model.parameters(), 0.5)  # BAD
                backward_and_step(loss, optimizer)
        """,
        "runs before loss.backward()",
    ),
    "trainer_methods_amp": (
        """
        import torch

        class Trainer:
            def __init__(self, model, optimizer, max_norm=1.0):
                self.model = model
                self.optimizer = optimizer
                self.scaler = torch.cuda.amp.GradScaler()
                self.max_norm = max_norm

            def _backward(self, loss):
                self.scaler.scale(loss).backward()

            def _clip(self):
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_norm)  # BAD

            def train_step(self, batch):
                with torch.autocast("cuda"):
                    loss = self.model(**batch).loss
                self._backward(loss)
                self._clip()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad()
        """,
        "scaler.unscale_(optimizer)",
    ),
    "lightning_clip_in_training_step": (
        """
        import lightning as L
        import torch
        from torch import nn

        class LitClassifier(L.LightningModule):
            def __init__(self, backbone):
                super().__init__()
                self.backbone = backbone

            def training_step(self, batch, batch_idx):
                x, y = batch
                loss = nn.functional.cross_entropy(self.backbone(x), y)
                torch.nn.utils.clip_grad_norm_(self.parameters(), 1.0)  # BAD
                self.log("train_loss", loss)
                return loss

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters(), lr=1e-3)
        """,
        "before Lightning calls backward",
    ),
    "lightning_base_class_of_the_file": (
        """
        import pytorch_lightning as pl
        import torch

        class Base(pl.LightningModule):
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.01)

        class Regressor(Base):
            def training_step(self, batch, batch_idx):
                loss = torch.nn.functional.mse_loss(self(batch[0]), batch[1])
                self.clip_gradients(self.optimizers(), gradient_clip_val=0.5)  # BAD
                return loss
        """,
        "gradient_clip_val",
    ),
    "accelerate_clip_before_backward": (
        """
        from accelerate import Accelerator

        def main(model, optimizer, dataloader, lr_scheduler):
            accelerator = Accelerator(mixed_precision="fp16")
            model, optimizer, dataloader = accelerator.prepare(model, optimizer, dataloader)
            for batch in dataloader:
                outputs = model(**batch)
                loss = outputs.loss
                accelerator.clip_grad_norm_(model.parameters(), 1.0)  # BAD
                accelerator.backward(loss)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
        """,
        "runs before accelerator.backward(loss)",
    ),
    "amp_branch_is_wrong_plain_branch_is_right": (
        """
        import torch

        def step(model, batch, optimizer, scaler, use_amp, max_norm):
            if use_amp:
                with torch.autocast("cuda"):
                    loss = model(batch)
                scaler.scale(loss).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)  # BAD
                scaler.step(optimizer)
                scaler.update()
            else:
                loss = model(batch)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
                optimizer.step()
            optimizer.zero_grad()
        """,
        "scaler.unscale_(optimizer)",
    ),
    "clip_after_step_in_a_helper": (
        """
        import torch

        def optimize(loss, model, optimizer):
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)  # BAD
        """,
        "after optimizer.step()",
    ),
    "gan_discriminator_clip_before_backward": (
        """
        import torch

        def train(netD, netG, loader, optimizerD, optimizerG, nz=100):
            criterion = torch.nn.BCELoss()
            for real, _ in loader:
                netD.zero_grad()
                torch.nn.utils.clip_grad_norm_(netD.parameters(), 1.0)  # BAD
                errD_real = criterion(netD(real).view(-1), torch.ones(real.size(0)))
                errD_real.backward()
                fake = netG(torch.randn(real.size(0), nz, 1, 1))
                errD_fake = criterion(netD(fake.detach()).view(-1), torch.zeros(real.size(0)))
                errD_fake.backward()
                optimizerD.step()
                netG.zero_grad()
                errG = criterion(netD(fake).view(-1), torch.ones(real.size(0)))
                errG.backward()
                torch.nn.utils.clip_grad_norm_(netG.parameters(), 1.0)
                optimizerG.step()
        """,
        "runs before errD_real.backward()",
    ),
    "scaled_loss_in_a_variable": (
        """
        import torch
        from torch.cuda.amp import GradScaler, autocast

        def train(model, loader, optim):
            scaler = GradScaler()
            for x, y in loader:
                with autocast():
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                scaled = scaler.scale(loss)
                scaled.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # BAD
                scaler.step(optim)
                scaler.update()
                optim.zero_grad()
        """,
        "scaled.backward()",
    ),
    "wrong_function_beside_a_right_one": (
        """
        import torch

        def good_step(model, loss, opt, scaler):
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()

        def bad_step(model, loss, opt, scaler):
            scaler.scale(loss).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # BAD
            scaler.step(opt)
            scaler.update()
        """,
        "scaler.scale(loss).backward()",
    ),
    "script_clip_after_step": (
        """
        import torch

        model = torch.nn.Linear(10, 1)
        opt = torch.optim.Adam(model.parameters())
        for _ in range(100):
            x = torch.randn(32, 10)
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # BAD
        """,
        "after opt.step()",
    ),
}


@pytest.mark.parametrize("name", sorted(POSITIVES))
def test_positive(name: str) -> None:
    src, says = POSITIVES[name]
    assert flagged(src) == marked(src)
    assert any(says in f.message for f in run(src)), [f.message for f in run(src)]


# --- correct training code that a line-order check would misfire on ------------------------

NEGATIVES: dict[str, str] = {
    "word_language_model": """
        import torch

        def train(model, corpus, criterion, lr, clip, bptt):
            model.train()
            hidden = model.init_hidden(20)
            for batch, i in enumerate(range(0, corpus.size(0) - 1, bptt)):
                data, targets = corpus[i:i + bptt], corpus[i + 1:i + 1 + bptt]
                model.zero_grad()
                output, hidden = model(data, hidden)
                loss = criterion(output, targets)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                for p in model.parameters():
                    p.data.add_(p.grad, alpha=-lr)
    """,
    "amp_with_unscale": """
        import torch

        def train(model, loader, optimizer, max_norm=1.0):
            scaler = torch.amp.GradScaler("cuda")
            for x, y in loader:
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast("cuda", dtype=torch.float16):
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
                scaler.step(optimizer)
                scaler.update()
    """,
    "torchvision_reference_optional_scaler": """
        import torch

        def train_one_epoch(model, criterion, optimizer, data_loader, device, args, scaler=None):
            model.train()
            for image, target in data_loader:
                image, target = image.to(device), target.to(device)
                with torch.cuda.amp.autocast(enabled=scaler is not None):
                    output = model(image)
                    loss = criterion(output, target)
                optimizer.zero_grad()
                if scaler is not None:
                    scaler.scale(loss).backward()
                    if args.clip_grad_norm is not None:
                        scaler.unscale_(optimizer)
                        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad_norm)
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    if args.clip_grad_norm is not None:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad_norm)
                    optimizer.step()
    """,
    "flag_guarded_scaler_with_guarded_unscale": """
        import torch

        def step(model, loss, optimizer, scaler, max_norm):
            if scaler:
                scaler.scale(loss).backward()
            else:
                loss.backward()
            if scaler:
                scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad()
    """,
    "helper_backward_then_clip": """
        import torch

        def backward_and_clip(loss, model, max_norm=1.0):
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)

        def train(model, loader, optimizer):
            for x, y in loader:
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x), y)
                backward_and_clip(loss, model)
                optimizer.step()
    """,
    "optimizer_wrapper_step_clips": """
        import torch

        class ClippedOptimizer:
            def __init__(self, optimizer, params, max_norm):
                self.optimizer = optimizer
                self.params = list(params)
                self.max_norm = max_norm

            def zero_grad(self):
                self.optimizer.zero_grad()

            def step(self):
                torch.nn.utils.clip_grad_norm_(self.params, self.max_norm)
                self.optimizer.step()

        def train(model, loader):
            optimizer = ClippedOptimizer(torch.optim.Adam(model.parameters()), model.parameters(), 1.0)
            for x, y in loader:
                optimizer.zero_grad()
                model(x).sub(y).pow(2).mean().backward()
                optimizer.step()
    """,
    "optimizer_subclass_step_clips": """
        import torch

        class ClipSGD(torch.optim.SGD):
            def __init__(self, params, lr, max_norm):
                super().__init__(params, lr=lr)
                self.max_norm = max_norm

            @torch.no_grad()
            def step(self, closure=None):
                for group in self.param_groups:
                    torch.nn.utils.clip_grad_norm_(group["params"], self.max_norm)
                return super().step(closure)
    """,
    "accelerate_no_trainer": """
        import torch
        from accelerate import Accelerator

        def main(model, optimizer, train_dataloader, lr_scheduler, args):
            accelerator = Accelerator(gradient_accumulation_steps=args.accum)
            model, optimizer, train_dataloader, lr_scheduler = accelerator.prepare(
                model, optimizer, train_dataloader, lr_scheduler
            )
            for epoch in range(args.epochs):
                model.train()
                for step, batch in enumerate(train_dataloader):
                    with accelerator.accumulate(model):
                        outputs = model(**batch)
                        loss = outputs.loss
                        accelerator.backward(loss)
                        if accelerator.sync_gradients:
                            accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                        optimizer.step()
                        lr_scheduler.step()
                        optimizer.zero_grad()
    """,
    "fabric_loop": """
        import lightning as L
        import torch

        def train(model, dataloader):
            fabric = L.Fabric(accelerator="cuda", precision="16-mixed")
            fabric.launch()
            optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
            model, optimizer = fabric.setup(model, optimizer)
            dataloader = fabric.setup_dataloaders(dataloader)
            for batch in dataloader:
                optimizer.zero_grad()
                loss = model(batch).mean()
                fabric.backward(loss)
                fabric.clip_gradients(model, optimizer, max_norm=1.0)
                optimizer.step()
    """,
    "lightning_configure_gradient_clipping": """
        import lightning.pytorch as pl
        import torch

        class Model(pl.LightningModule):
            def training_step(self, batch, batch_idx):
                x, y = batch
                return torch.nn.functional.mse_loss(self(x), y)

            def configure_gradient_clipping(self, optimizer, gradient_clip_val=None,
                                            gradient_clip_algorithm=None):
                if self.current_epoch > 5:
                    self.clip_gradients(optimizer, gradient_clip_val=0.5,
                                        gradient_clip_algorithm="norm")

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters())
    """,
    "lightning_hooks_and_callbacks": """
        import lightning as L
        import torch
        from lightning.pytorch.callbacks import Callback

        class GradClip(Callback):
            def __init__(self, max_norm):
                self.max_norm = max_norm

            def on_before_optimizer_step(self, trainer, pl_module, optimizer):
                torch.nn.utils.clip_grad_norm_(pl_module.parameters(), self.max_norm)

        class Net(L.LightningModule):
            def training_step(self, batch, batch_idx):
                return self(batch).mean()

            def on_before_optimizer_step(self, optimizer):
                norms = torch.nn.utils.clip_grad_norm_(self.parameters(), float("inf"))
                self.log("grad_norm", norms)

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)
    """,
    "lightning_manual_optimization": """
        import lightning as L
        import torch

        class GAN(L.LightningModule):
            def __init__(self, generator, discriminator):
                super().__init__()
                self.automatic_optimization = False
                self.generator = generator
                self.discriminator = discriminator

            def training_step(self, batch, batch_idx):
                g_opt, d_opt = self.optimizers()
                d_loss = self.discriminator(batch).mean()
                d_opt.zero_grad()
                self.manual_backward(d_loss)
                self.clip_gradients(d_opt, gradient_clip_val=0.5, gradient_clip_algorithm="norm")
                d_opt.step()
                g_loss = -self.discriminator(self.generator(batch)).mean()
                g_opt.zero_grad()
                self.manual_backward(g_loss)
                torch.nn.utils.clip_grad_norm_(self.generator.parameters(), 1.0)
                g_opt.step()

            def configure_optimizers(self):
                return (torch.optim.Adam(self.generator.parameters()),
                        torch.optim.Adam(self.discriminator.parameters()))
    """,
    "accumulation_clip_inside_the_step_branch": """
        import torch

        def train(model, loader, optimizer, scheduler, accum=4, max_norm=1.0):
            optimizer.zero_grad()
            for i, (x, y) in enumerate(loader):
                loss = torch.nn.functional.cross_entropy(model(x), y) / accum
                loss.backward()
                if (i + 1) % accum == 0 or i + 1 == len(loader):
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
    """,
    "norm_measured_at_inf": """
        import math
        import torch

        def train(model, loader, optimizer, writer):
            for step, (x, y) in enumerate(loader):
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                optimizer.step()
                total = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
                writer.add_scalar("grad_norm", total, step)
                other = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=math.inf)
                writer.add_scalar("grad_norm2", other, step)
    """,
    "timm_native_scaler": """
        import torch
        from timm.utils import dispatch_clip_grad

        class NativeScaler:
            state_dict_key = "amp_scaler"

            def __init__(self):
                self._scaler = torch.cuda.amp.GradScaler()

            def __call__(self, loss, optimizer, clip_grad=None, clip_mode="norm",
                         parameters=None, create_graph=False, need_update=True):
                self._scaler.scale(loss).backward(create_graph=create_graph)
                if need_update:
                    if clip_grad is not None:
                        assert parameters is not None
                        self._scaler.unscale_(optimizer)
                        dispatch_clip_grad(parameters, clip_grad, mode=clip_mode)
                    self._scaler.step(optimizer)
                    self._scaler.update()

        def train_one_epoch(model, loader, optimizer, loss_scaler, args):
            for input, target in loader:
                loss = model(input).sum()
                optimizer.zero_grad()
                if loss_scaler is not None:
                    loss_scaler(loss, optimizer, clip_grad=args.clip_grad,
                                parameters=model.parameters())
                else:
                    loss.backward(create_graph=False)
                    if args.clip_grad is not None:
                        dispatch_clip_grad(model.parameters(), value=args.clip_grad)
                    optimizer.step()
    """,
    "gan_two_optimizers": """
        import torch

        def train(G, D, loader, opt_g, opt_d):
            for real in loader:
                opt_d.zero_grad()
                d_loss = D(real).mean() - D(G(torch.randn(8, 64)).detach()).mean()
                d_loss.backward()
                torch.nn.utils.clip_grad_norm_(D.parameters(), 1.0)
                opt_d.step()
                opt_g.zero_grad()
                g_loss = -D(G(torch.randn(8, 64))).mean()
                g_loss.backward()
                torch.nn.utils.clip_grad_norm_(G.parameters(), 1.0)
                opt_g.step()
    """,
    "lbfgs_closure": """
        import torch

        def fit(model, x, y, steps=20):
            optimizer = torch.optim.LBFGS(model.parameters(), lr=0.8)
            for _ in range(steps):
                def closure():
                    optimizer.zero_grad()
                    loss = torch.nn.functional.mse_loss(model(x), y)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
                    return loss
                optimizer.step(closure)
    """,
    "trainer_methods_right_order": """
        import torch

        class Trainer:
            def __init__(self, model, optimizer, use_amp):
                self.model = model
                self.optimizer = optimizer
                self.scaler = torch.cuda.amp.GradScaler(enabled=use_amp)

            def backward(self, loss):
                self.scaler.scale(loss).backward()

            def clip_and_step(self, max_norm):
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)

            def train_step(self, batch):
                with torch.autocast("cuda", enabled=self.scaler.is_enabled()):
                    loss = self.model(**batch).loss
                self.backward(loss)
                self.clip_and_step(1.0)
                return loss.detach()
    """,
    "skipped_batches_continue": """
        import torch

        def train(model, loader, optimizer):
            for x, y in loader:
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x), y)
                if not torch.isfinite(loss):
                    continue
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                if norm > 100:
                    print("large gradient", norm)
                optimizer.step()
    """,
    "clip_value_then_step_with_scheduler": """
        import torch

        def train(model, loader, optimizer, scheduler, clip_value=0.5):
            for epoch in range(10):
                for x, y in loader:
                    optimizer.zero_grad()
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                    loss.backward()
                    torch.nn.utils.clip_grad_value_(model.parameters(), clip_value)
                    optimizer.step()
                scheduler.step()
    """,
    "hf_style_trainer_accumulation_with_scaler_flag": """
        import torch

        class Loop:
            def __init__(self, model, optimizer, fp16, max_grad_norm, accum):
                self.model = model
                self.optimizer = optimizer
                self.scaler = torch.cuda.amp.GradScaler() if fp16 else None
                self.max_grad_norm = max_grad_norm
                self.accum = accum

            def training_step(self, batch):
                loss = self.model(**batch).loss / self.accum
                if self.scaler is not None:
                    self.scaler.scale(loss).backward()
                else:
                    loss.backward()
                return loss

            def train(self, loader):
                for step, batch in enumerate(loader):
                    self.training_step(batch)
                    if (step + 1) % self.accum == 0:
                        if self.max_grad_norm > 0:
                            if self.scaler is not None:
                                self.scaler.unscale_(self.optimizer)
                            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
                        if self.scaler is not None:
                            self.scaler.step(self.optimizer)
                            self.scaler.update()
                        else:
                            self.optimizer.step()
                        self.model.zero_grad()
    """,
}


@pytest.mark.parametrize("name", sorted(NEGATIVES))
def test_negative(name: str) -> None:
    assert run(NEGATIVES[name]) == []


def test_corpus_counts() -> None:
    """The corpus this rule was built on: 16 realistic positives, 20 correct loops."""
    assert len(POSITIVES) >= 10 and len(NEGATIVES) >= 15
    assert sum(len(marked(src)) for src, _ in POSITIVES.values()) == len(POSITIVES)


# --- the finding itself ----------------------------------------------------------------------


def test_finding_anchors_on_the_clip_and_relates_the_backward_and_step() -> None:
    src, _ = POSITIVES["clip_before_backward"]
    (finding,) = run(src)
    lines = textwrap.dedent(src).splitlines()
    assert finding.name == "clip-has-no-effect" and finding.severity == "warning"
    assert lines[finding.line - 1][finding.column - 1 :].startswith("clip_grad_norm_(")
    assert finding.symbol == "train"
    labels = {r.message: lines[r.line - 1].strip() for r in finding.related}
    assert labels == {
        "backward pass after the clip": "loss.backward()",
        "step that applies its gradients": "optimizer.step()",
    }
    assert "Move it between the backward pass and the step" in finding.message
    assert "(line 14)" in finding.message


def test_after_step_relates_the_step() -> None:
    src, _ = POSITIVES["clip_after_step"]
    (finding,) = run(src)
    assert [r.message for r in finding.related] == ["step that already applied the gradients"]
    assert "next zero_grad() discards the clipped values" in finding.message


def test_scaled_message_names_the_scale_and_the_fix() -> None:
    src, _ = POSITIVES["amp_without_unscale"]
    (finding,) = run(src)
    assert "65536" in finding.message
    assert "Call scaler.unscale_(optimizer) before clipping" in finding.message
    assert finding.related[0].message.startswith("backward of GradScaler-scaled loss")


def test_lightning_relates_training_step() -> None:
    src, _ = POSITIVES["lightning_clip_in_training_step"]
    (finding,) = run(src)
    lines = textwrap.dedent(src).splitlines()
    (related,) = finding.related
    assert "def training_step" in lines[related.line - 1]
    assert "configure_gradient_clipping" in finding.message


def test_on_by_default_and_noqa() -> None:
    assert RULES["GCK007"].default and RULES["GCK007"].severity == "warning"
    src, _ = POSITIVES["clip_after_step"]
    assert "GCK007" in {f.code for f in lint_source(textwrap.dedent(src), "t.py")}
    quiet = textwrap.dedent(src).replace("# BAD", "# noqa: GCK007")
    assert [f for f in lint_source(quiet, "t.py") if f.code == "GCK007"] == []


# --- helpers, loops and branches, one at a time ----------------------------------------------


def test_helper_that_clips_is_judged_where_it_is_called() -> None:
    src = """
    import torch

    def clip(model):
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # BAD

    def train(model, loader, optimizer):
        for x in loader:
            optimizer.zero_grad()
            clip(model)
            model(x).sum().backward()
            optimizer.step()
    """
    assert flagged(src) == marked(src)


def test_helper_that_clips_right_in_one_caller_is_not_flagged() -> None:
    src = """
    import torch

    def clip(model):
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)

    def good(model, x, optimizer):
        model(x).sum().backward()
        clip(model)
        optimizer.step()

    def odd(model, x, optimizer):
        clip(model)
        model(x).sum().backward()
        optimizer.step()
    """
    assert flagged(src) == []


def test_method_helpers_through_self() -> None:
    src = """
    import torch

    class Runner:
        def backward(self, loss):
            loss.backward()

        def clip(self):
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)

        def run(self, loss):
            self.optimizer.zero_grad()
            self.backward(loss)
            self.clip()
            self.optimizer.step()
    """
    assert flagged(src) == []
    swapped = src.replace("self.backward(loss)", "self.swap()").replace(
        "self.clip()", "self.backward(loss)"
    )
    assert flagged(swapped.replace("self.swap()", "self.clip()")) == [9]


def test_clip_before_backward_with_no_step_in_sight_is_not_judged() -> None:
    src = """
    import torch

    def prepare(model, loss):
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        loss.backward()
    """
    assert flagged(src) == []


def test_return_ends_a_path() -> None:
    src = """
    import torch

    def step(model, loss, optimizer, dry_run):
        loss.backward()
        if dry_run:
            optimizer.zero_grad()
            return
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    """
    assert flagged(src) == []


def test_break_after_the_step_does_not_reach_the_clip() -> None:
    src = """
    import torch

    def train(model, loader, optimizer, max_steps):
        for i, (x, y) in enumerate(loader):
            loss = model(x).sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
            if i == max_steps:
                break
    """
    assert flagged(src) == []


def test_amp_joined_paths_without_any_unscale_flags_the_scaled_path() -> None:
    src = """
    import torch

    def step(model, loss, optimizer, scaler, use_amp):
        if use_amp:
            scaler.scale(loss).backward()
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # BAD
        if use_amp:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
    """
    assert flagged(src) == marked(src)


def test_clip_aliases_and_value_clipping() -> None:
    src = """
    import torch
    from torch.nn.utils import clip_grad_norm_ as clip

    def train(model, loss, opt):
        loss.backward()
        opt.step()
        clip(model.parameters(), 1.0)  # BAD
    """
    assert flagged(src) == marked(src)


def test_deepspeed_engine_is_not_an_optimizer() -> None:
    src = """
    import torch

    def train(model_engine, loader):
        for batch in loader:
            loss = model_engine(batch)
            torch.nn.utils.clip_grad_norm_(model_engine.parameters(), 1.0)
            model_engine.backward(loss)
            model_engine.step()
    """
    assert flagged(src) == []


def test_many_paths_are_not_judged() -> None:
    branches = "\n".join(
        f"    if flag{i}:\n        loss.backward()\n    else:\n        x{i} = 1" for i in range(12)
    )
    src = (
        "import torch\n\ndef f(model, loss, opt, "
        + ", ".join(f"flag{i}" for i in range(12))
        + "):\n    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
        + branches
        + "\n    opt.step()\n"
    )
    run(src)  # finishes, whatever it decides


# --- the screen ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("x = 'clip_grad_norm_'\nloss.backward()\nopt.step()\n", False),
        ("# clip_grad_norm_ is documented elsewhere\n", False),
        ("clip_grad_norm_(p, 1.0)\nloss.backward()\n", False),
        ("clip_grad_norm_(p, 1.0)\nloss.backward()\nopt.step()\n", True),
        ("from torch.nn.utils import clip_grad_norm_ as c\nc(p)\nl.backward()\no.step()\n", True),
        (
            "class M:\n    def training_step(self, b, i):\n"
            "        torch.nn.utils.clip_grad_norm_(self.parameters(), 1)\n",
            True,
        ),
    ],
)
def test_screen(src: str, expected: bool) -> None:
    assert clips_and_trains(ast.parse(src)) is expected


def test_lint_of_a_file_without_clipping_never_imports_the_analysis() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom gradcheck_kit import lint_source\n"
        "lint_source('import torch\\nloss.backward()\\nopt.step()\\n', 't.py')\n"
        "print('clip_effect' in ' '.join(sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_screen_lets_every_positive_through() -> None:
    for src, _ in POSITIVES.values():
        assert clips_and_trains(ast.parse(textwrap.dedent(src)))


def test_screen_skips_a_scaler_that_unscales_before_clipping() -> None:
    """timm's NativeScaler: scale, backward, unscale, clip, step in one method called by no
    one in the file - nothing to follow, so no libcst parse."""
    src = textwrap.dedent(NEGATIVES["timm_native_scaler"]).split("def train_one_epoch")[0]
    assert not clips_and_trains(ast.parse(src))
    rescaled = src.replace("self._scaler.unscale_(optimizer)", "pass")
    assert clips_and_trains(ast.parse(rescaled))
