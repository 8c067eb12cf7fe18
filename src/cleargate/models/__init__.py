"""Backbones (nn.Module), one LightningModule that takes a backbone, and unfitted sklearn estimators."""
