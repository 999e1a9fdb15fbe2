"""Backgrounds, colours and image degradations shared by the synthesizers.

Every function takes the numpy Generator of the sample, so results depend only on the seed.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from paddle_pp.dataset_tools.tool_io import DataToolError
from paddle_pp.utils.image_io import read_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def uniform(rng: np.random.Generator, value_range: Sequence[float]) -> float:
    low, high = value_range
    return float(rng.uniform(low, high)) if high > low else float(low)


def luminance(bgr: Sequence[float]) -> float:
    b, g, r = bgr[:3]
    return 0.114 * b + 0.587 * g + 0.299 * r


# ----------------------------------------------------------------------------- backgrounds
def random_colour(rng: np.random.Generator, light: Optional[bool] = None) -> np.ndarray:
    """A BGR colour; light / dark / either. Mostly low saturation, like paper and ink."""
    if light is None:
        light = bool(rng.random() < 0.5)
    base = rng.uniform(170, 255) if light else rng.uniform(0, 110)
    saturation = rng.uniform(0, 60) if rng.random() < 0.8 else rng.uniform(60, 140)
    colour = base + rng.uniform(-saturation, saturation, size=3) / 2
    return np.clip(colour, 0, 255)


def flat_background(rng, height: int, width: int, colour: np.ndarray) -> np.ndarray:
    return np.broadcast_to(colour.astype(np.float32), (height, width, 3)).copy()


def gradient_background(rng, height: int, width: int, colour: np.ndarray) -> np.ndarray:
    """Linear gradient in a random direction, from `colour` to a nearby colour."""
    other = np.clip(colour + rng.uniform(-70, 70, size=3), 0, 255)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    t = xs * np.cos(angle) + ys * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    return colour.astype(np.float32) * (1 - t[..., None]) + other.astype(np.float32) * t[..., None]


def noise_background(rng, height: int, width: int, colour: np.ndarray) -> np.ndarray:
    sigma = rng.uniform(4, 20)
    noise = rng.normal(0, sigma, size=(height, width, 1)).astype(np.float32)
    return colour.astype(np.float32) + noise


def texture_background(rng, height: int, width: int, colour: np.ndarray) -> np.ndarray:
    """Paper-like texture: low-frequency blotches plus fine grain and optional fibres / ruled lines."""
    small = rng.normal(0, 1, size=(max(2, height // 8), max(2, width // 8))).astype(np.float32)
    blotches = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 1, size=(height, width)).astype(np.float32)
    field = blotches * rng.uniform(5, 18) + grain * rng.uniform(2, 8)
    image = colour.astype(np.float32) + field[..., None]
    if rng.random() < 0.3:  # ruled or grid lines, as on forms and notebooks
        step = int(rng.integers(max(6, height // 3), max(7, height)))
        shade = rng.uniform(-50, -15)
        image[::step] += shade
        if rng.random() < 0.5:
            image[:, ::step] += shade
    return image


class ImageBackgrounds:
    """Random crops of user images (from --bg_dir); each image is read once per process."""

    def __init__(self, directory: Optional[Path]):
        self.paths: List[Path] = []
        if directory:
            directory = Path(directory)
            if not directory.is_dir():
                raise DataToolError(f"{directory}: --bg_dir is not a directory")
            self.paths = sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self.paths:
                raise DataToolError(f"{directory}: no images in --bg_dir")
        self._cache = {}

    def __bool__(self) -> bool:
        return bool(self.paths)

    def _image(self, path: Path) -> Optional[np.ndarray]:
        if path not in self._cache:
            try:
                self._cache[path] = read_image(path)
            except DataToolError:
                self._cache[path] = None  # reported once by being skipped; other images still serve
        return self._cache[path]

    def crop(self, rng: np.random.Generator, height: int, width: int) -> Optional[np.ndarray]:
        image = self._image(self.paths[int(rng.integers(len(self.paths)))])
        if image is None:
            return None
        scale = max(height / image.shape[0], width / image.shape[1], rng.uniform(0.3, 1.0) if
                    min(image.shape[:2]) > 4 * max(height, width) else 0)
        if scale > 1 or scale < 1:
            image = cv2.resize(image, (max(width, int(np.ceil(image.shape[1] * scale))),
                                       max(height, int(np.ceil(image.shape[0] * scale)))))
        y = int(rng.integers(0, image.shape[0] - height + 1))
        x = int(rng.integers(0, image.shape[1] - width + 1))
        return image[y:y + height, x:x + width].astype(np.float32)


BACKGROUND_KINDS = ("flat", "gradient", "noise", "texture", "image")


def make_background(rng: np.random.Generator, height: int, width: int, weights: Sequence[float],
                    images: Optional[ImageBackgrounds] = None, light: Optional[bool] = None) -> np.ndarray:
    """A float32 BGR background of one of BACKGROUND_KINDS drawn with `weights` (image only with --bg_dir)."""
    weights = np.asarray(weights, dtype=np.float64).copy()
    if not images:
        weights[BACKGROUND_KINDS.index("image")] = 0
    kind = BACKGROUND_KINDS[int(rng.choice(len(BACKGROUND_KINDS), p=weights / weights.sum()))]
    colour = random_colour(rng, light)
    if kind == "image":
        crop = images.crop(rng, height, width)
        if crop is not None:
            return crop
        kind = "flat"
    maker = {"flat": flat_background, "gradient": gradient_background,
             "noise": noise_background, "texture": texture_background}[kind]
    return maker(rng, height, width, colour)


def contrasting_colour(rng: np.random.Generator, background_luminance: float, min_contrast: float) -> np.ndarray:
    """A text colour whose luminance differs from the background's by at least `min_contrast`."""
    dark_room = background_luminance - min_contrast
    light_room = 255 - min_contrast - background_luminance
    go_dark = dark_room >= 0 and (light_room < 0 or rng.random() < dark_room / (dark_room + light_room + 1e-6))
    for _ in range(20):
        colour = random_colour(rng, light=not go_dark)
        colour = colour if rng.random() < 0.85 else np.clip(colour + rng.uniform(-90, 90, 3), 0, 255)
        if abs(luminance(colour) - background_luminance) >= min_contrast:
            return colour
    return np.zeros(3) if go_dark else np.full(3, 255.0)


def composite(background: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Alpha-blend a solid text colour over the background (both float32 BGR)."""
    alpha = mask.astype(np.float32)[..., None] * (1.0 / 255.0)
    return background * (1 - alpha) + colour.astype(np.float32) * alpha


# ----------------------------------------------------------------------------- degradations
def dot_matrix(mask: np.ndarray, pitch: float) -> np.ndarray:
    """Keep the ink only on a grid of round dots `pitch` pixels apart (impact / thermal print heads), then
    soften so neighbouring dots touch a little as they do on paper. A mask too small for the grid is kept."""
    pitch = float(pitch)
    if pitch < 2.0:
        return mask
    height, width = mask.shape
    ys = (np.arange(height, dtype=np.float32) % pitch) - pitch / 2
    xs = (np.arange(width, dtype=np.float32) % pitch) - pitch / 2
    radius = 0.45 * pitch
    dots = (ys[:, None] ** 2 + xs[None, :] ** 2) <= radius * radius
    dotted = np.where(dots, mask, 0).astype(np.uint8)
    return cv2.GaussianBlur(dotted, (0, 0), sigmaX=pitch / 5)


def binarize(image: np.ndarray, blur_sigma: float, threshold_shift: float) -> np.ndarray:
    """A bilevel scan (UW-III's .bin.png pages): soften by `blur_sigma` pixels, then Otsu's threshold moved by
    `threshold_shift` grey levels (positive: more pixels turn to ink, strokes thicken, as dark scans do). Ink is
    always black on white, whichever way the line was drawn."""
    grey = cv2.cvtColor(to_uint8(image), cv2.COLOR_BGR2GRAY)
    if blur_sigma > 0:
        grey = cv2.GaussianBlur(grey, (0, 0), sigmaX=blur_sigma)
    otsu, _ = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark_is_ink = float(np.mean(grey < otsu)) < 0.5
    if dark_is_ink:
        bilevel = np.where(grey <= otsu + threshold_shift, 0, 255)
    else:
        bilevel = np.where(grey >= otsu - threshold_shift, 0, 255)
    return cv2.cvtColor(bilevel.astype(np.uint8), cv2.COLOR_GRAY2BGR).astype(np.float32)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=max(sigma, 0.1))


def motion_blur(rng: np.random.Generator, image: np.ndarray, length: int) -> np.ndarray:
    length = max(2, int(length))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    kernel /= max(float(kernel.sum()), 1e-6)
    return cv2.filter2D(image, -1, kernel)


def add_noise(rng: np.random.Generator, image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian noise, or salt-and-pepper now and then (thermal printers and scanners make both)."""
    if rng.random() < 0.8:
        return image + rng.normal(0, sigma, size=image.shape[:2] + (1,)).astype(np.float32)
    amount = sigma / 400.0
    flips = rng.random(image.shape[:2])
    image = image.copy()
    image[flips < amount / 2] = 0
    image[flips > 1 - amount / 2] = 255
    return image


def brightness_contrast(image: np.ndarray, contrast: float, brightness: float) -> np.ndarray:
    mean = float(image.mean())
    return (image - mean) * contrast + mean + brightness


def jpeg_artefacts(image_u8: np.ndarray, quality: int) -> np.ndarray:
    ok, buffer = cv2.imencode(".jpg", image_u8, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buffer, cv2.IMREAD_COLOR) if ok else image_u8


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- geometry
def perspective_homography(rng: np.random.Generator, width: float, height: float, angle_degrees: float,
                           jitter: float) -> np.ndarray:
    """Homography that rotates a width x height rectangle about its centre and moves each corner by up to
    `jitter` * height, then shifts the result to positive coordinates."""
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    moved = corners + rng.uniform(-jitter, jitter, size=(4, 2)).astype(np.float32) * height
    centre = corners.mean(axis=0)
    theta = np.deg2rad(angle_degrees)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]], np.float32)
    moved = (moved - centre) @ rotation.T + centre
    moved -= moved.min(axis=0)
    return cv2.getPerspectiveTransform(corners, moved.astype(np.float32))


def transform_points(points: np.ndarray, homography: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), homography).reshape(-1, 2)


def warp_mask(mask: np.ndarray, homography: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Warp a mask by a homography into a canvas that holds the whole result; returns (mask, H used)."""
    height, width = mask.shape[:2]
    corners = transform_points(np.array([[0, 0], [width, 0], [width, height], [0, height]]), homography)
    offset = np.floor(corners.min(axis=0)) - 1
    size = np.ceil(corners.max(axis=0) - offset) + 2
    shift = np.array([[1, 0, -offset[0]], [0, 1, -offset[1]], [0, 0, 1]], np.float64)
    full = shift @ homography
    warped = cv2.warpPerspective(mask, full, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return warped, full
