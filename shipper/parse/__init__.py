"""The parsing half of the shipper: job log lines → clean ECS events (pure, no network).

``compile_parser(ParseConfig)`` compiles everything once per input (grok patterns, zone, start
pattern); ``Parser.decoder(path)`` gives the per-file :class:`shipper.model.Decoder`.
"""

from __future__ import annotations

from shipper.parse.config import MultilineConfig, ParseConfig
from shipper.parse.parser import Parser, compile_parser, make_decoder

__all__ = ["MultilineConfig", "ParseConfig", "Parser", "compile_parser", "make_decoder"]
