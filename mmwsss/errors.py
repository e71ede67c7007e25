class WSSSInputError(ValueError):
    """Bad input data (a CAM, saliency map, label list...).

    The message always names the image id (when there is one) and the file,
    so a user can find and fix the offending input.
    """

    def __init__(self, msg, img_id=None, path=None):
        parts = []
        if img_id is not None:
            parts.append(f'image {img_id!r}')
        if path is not None:
            parts.append(f'file {str(path)!r}')
        prefix = ', '.join(parts)
        super().__init__(f'{prefix}: {msg}' if prefix else msg)
        self.img_id = img_id
        self.path = path
