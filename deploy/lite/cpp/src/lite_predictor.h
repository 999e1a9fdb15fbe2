// Predictor on Paddle-Lite's light API (MobileConfig + an opt-converted .nb). Built only with PADDLE_LITE_DIR.
#pragma once
#include <memory>
#include <string>

#include "predictor.h"

namespace paddle { namespace lite_api { class PaddlePredictor; } }

namespace ppocr {

class LitePredictor : public Predictor {
 public:
  // power_mode: LITE_POWER_HIGH, LITE_POWER_LOW, LITE_POWER_FULL, LITE_POWER_NO_BIND, LITE_POWER_RAND_HIGH,
  // LITE_POWER_RAND_LOW.
  LitePredictor(const std::string& nb_path, int threads, const std::string& power_mode);
  // Runs the batch one item at a time: the recognizer's LSTM is exported with a fixed batch of 1 for Lite.
  Tensor Run(const Tensor& input) override;

 private:
  std::shared_ptr<paddle::lite_api::PaddlePredictor> predictor_;
};

}  // namespace ppocr
