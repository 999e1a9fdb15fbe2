// The only thing the OCR pipeline needs from an inference library: float32 NCHW in, float32 tensor out.
// lite_predictor.cc implements it with Paddle-Lite; the tests implement it without any library.
#pragma once
#include "preprocess.h"

namespace ppocr {

class Predictor {
 public:
  virtual ~Predictor() = default;
  // input: [N, C, H, W]; returns det [N, 1, H, W], cls [N, 2] or rec [N, T, num_classes].
  virtual Tensor Run(const Tensor& input) = 0;
};

}  // namespace ppocr
