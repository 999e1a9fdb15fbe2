"""Data operators (one module per family) and the declared-keys pipeline that runs them.

Importing this package registers every operator in ``paddle_pp.registry.TRANSFORMS``. The inference
preprocessing (det_ops, rec_ops) lives here too and is reused by the training-side operators.
"""
from paddle_pp.data.imaug import (iaa_augment, label_ops, make_border_map, make_shrink_map,  # noqa: F401
                                  operators, randaugment, random_crop_data, rec_img_aug)
from paddle_pp.data.imaug.base import (DATASET_KEYS, DataOp, SampleRejected, TransformPipeline,  # noqa: F401
                                       build_op, build_transforms)
