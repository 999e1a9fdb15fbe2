"""Sequence encoders for CRNN: feature map [N, C, 1, W] -> sequence [N, W, C'] (batch-major)."""
from __future__ import annotations

import paddle
import paddle.nn as nn

from paddle_pp.registry import NECKS


class Im2Seq(nn.Layer):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.out_channels = in_channels

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        # The backbone leaves a height of 1 for 32-pixel lines; anything else is a wrong input size.
        x = x.squeeze(axis=2)
        return x.transpose([0, 2, 1])


class EncoderWithRNN(nn.Layer):
    def __init__(self, in_channels: int, hidden_size: int, num_layers: int = 2) -> None:
        super().__init__()
        self.out_channels = hidden_size * 2
        self.lstm = nn.LSTM(in_channels, hidden_size, direction="bidirectional", num_layers=num_layers)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x, _ = self.lstm(x)
        return x


class EncoderWithFC(nn.Layer):
    def __init__(self, in_channels: int, hidden_size: int) -> None:
        super().__init__()
        self.out_channels = hidden_size
        self.fc = nn.Linear(in_channels, hidden_size)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.fc(x)


@NECKS.register("SequenceEncoder")
class SequenceEncoder(nn.Layer):
    """Im2Seq followed by an optional encoder: 'rnn' (2-layer BiLSTM, PP-OCR), 'fc' or 'reshape'."""

    def __init__(self, in_channels: int, encoder_type: str = "rnn", hidden_size: int = 48,
                 num_layers: int = 2) -> None:
        super().__init__()
        self.encoder_reshape = Im2Seq(in_channels)
        self.encoder_type = encoder_type
        if encoder_type == "reshape":
            self.out_channels = in_channels
        elif encoder_type == "rnn":
            self.encoder = EncoderWithRNN(in_channels, hidden_size, num_layers)
            self.out_channels = self.encoder.out_channels
        elif encoder_type == "fc":
            self.encoder = EncoderWithFC(in_channels, hidden_size)
            self.out_channels = self.encoder.out_channels
        else:
            raise ValueError(f"SequenceEncoder encoder_type must be rnn, fc or reshape, got '{encoder_type}'")

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.encoder_reshape(x)
        if self.encoder_type != "reshape":
            x = self.encoder(x)
        return x
