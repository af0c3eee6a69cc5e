"""ImageExampleGen: a folder of image files -> tf.Examples of 28x28 digits (`image`, `filename`).

The package itself imports nothing heavy, so the command line can check a folder with
`images.check_folder` before it loads TFX; the component lives in `component`.
"""
