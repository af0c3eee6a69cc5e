# The image every task of the Kubeflow Pipelines v2 / Vertex AI pipeline runs in
# (`make compile-kubeflow`): TFX 1.16's own image with this project at /tfzoo, where the compiled
# spec finds the module files, the curated schemas and the CSVs. Build it, push it, and compile
# with IMAGE= set to the pushed name (docs/scale-out.md). Not built in this repository's CI.
ARG TFX_IMAGE=tensorflow/tfx:1.16.0
# Beam's worker launcher, so the same image can also be the SDK container of Beam workers
# (Dataflow --sdk_container_image, Flink/Spark --environment_config): Beam's documented way
# to build a custom container. Same Beam version and Python as requirements.lock.
ARG BEAM_SDK_IMAGE=apache/beam_python3.10_sdk:2.59.0
FROM ${BEAM_SDK_IMAGE} AS beam_sdk
FROM ${TFX_IMAGE}

WORKDIR /tfzoo
# The tested versions (requirements.lock: TFX 1.16.0, TensorFlow 2.16.2, Keras 3.6,
# tensorflow-datasets 4.9.3, apache-beam 2.59.0, ...) over the image's own, so the pods run
# what the tests ran.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY setup.py ./
COPY pipelines pipelines
COPY components components
COPY models models
COPY data data
# Importable from anywhere (TFX's executors import components.* and models.common).
RUN pip install --no-cache-dir --no-deps -e .
COPY --from=beam_sdk /opt/apache/beam /opt/apache/beam
# Beam workers start here; Kubeflow / Vertex tasks do not: the compiled spec gives every task
# its command (python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor).
ENTRYPOINT ["/opt/apache/beam/boot"]
