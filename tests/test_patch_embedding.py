"""The patch embedding: RoI pooling equals cropping and resizing; unit 256-d embeddings; a saved
config rebuilds the same architecture."""

import torch
import torch.nn.functional as F

from stcorr.models.patch_embedding import PatchEmbedding, PatchEmbeddingSettings, patch_embedding_from_config, roi_pool


def test_roi_pool_of_a_box_equals_cropping_and_resizing_it():
    torch.manual_seed(0)
    image = torch.rand(2, 3, 40, 48)  # 2 frames, 48 wide, 40 high
    boxes = torch.tensor([[8.0, 4.0, 24.0, 28.0], [30.0, 10.0, 46.0, 34.0]])  # 16 x 24 boxes
    frame_index = torch.tensor([0, 1])
    pooled = roi_pool(image, (48, 40), frame_index, boxes, output_size=8, sampling_ratio=1)
    for b, (x1, y1, x2, y2) in enumerate(boxes.long().tolist()):
        crop = image[frame_index[b], :, y1:y2, x1:x2][None]
        resized = F.interpolate(crop, size=(8, 8), mode="bilinear", align_corners=False)
        torch.testing.assert_close(pooled[b], resized[0])


def test_roi_pool_on_a_downsampled_map_matches_the_image_box():
    """The same box pooled from the image and from the image average-pooled by 2: the box is in
    image pixels both times, so a smooth image gives nearly the same bins."""
    y, x = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    image = torch.stack([x / 64, y / 64, (x + y) / 128])[None]  # linear ramps
    half = F.avg_pool2d(image, 2)
    box = torch.tensor([[10.0, 20.0, 42.0, 52.0]])
    index = torch.tensor([0])
    full = roi_pool(image, (64, 64), index, box, 4, 2)
    coarse = roi_pool(half, (64, 64), index, box, 4, 2)
    torch.testing.assert_close(full, coarse, atol=1e-5, rtol=0)


def test_embeddings_are_unit_256_vectors_and_config_rebuilds():
    torch.manual_seed(0)
    settings = PatchEmbeddingSettings.defaults(size=64)
    model = PatchEmbedding(settings).eval()
    frames = torch.rand(3, 3, 64, 64)
    boxes = torch.tensor([[0.0, 0.0, 16.0, 16.0], [20.0, 30.0, 44.0, 54.0], [40.0, 40.0, 64.0, 64.0]])
    emb = model(frames, torch.tensor([0, 1, 2]), boxes)
    assert emb.shape == (3, 256)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))
    twin = patch_embedding_from_config(model.config).eval()
    twin.load_state_dict(model.state_dict())
    torch.testing.assert_close(twin(frames, torch.tensor([0, 1, 2]), boxes), emb)
