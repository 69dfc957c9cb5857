"""Ultralytics YOLO26 (nano), built from the ``yolo26n.yaml`` that ships inside the
``ultralytics`` package, at random init: no weights are downloaded and nothing leaves the machine.

A real detector: Conv-BatchNorm-SiLU blocks, C3k2/C2PSA residual stages and a detection head
returning several feature maps (the default probe loss sums them all). The architecture has a
fixed depth, so the check runs at one depth. It needs ``ultralytics`` (which needs
``torchvision``); without them ``gradcheck-kit audit`` reports the check as skipped.
"""

from ultralytics.nn.tasks import DetectionModel


def make_yolo26(depth: int):
    del depth  # the YAML fixes the depth
    model = DetectionModel("yolo26n.yaml", verbose=False)
    model.train()
    return model
