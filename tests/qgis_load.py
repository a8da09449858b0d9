"""Load OGC API - Features collections in QGIS, headless, as its "OAPIF" provider reads them, and
print what QGIS made of them as JSON. Run by tests/test_qgis.py with the system's Python, which
holds QGIS's bindings (Debian's python3-qgis):

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_load.py '[{"uri": "...", ...}]'

Each load names an OAPIF `uri`, and optionally a `subset` (QGIS's filter expression, as a user
sets it in the layer's "Filter..."), a `rect` (minx, miny, maxx, maxy: read only the features
there, as a map canvas does) and a `limit` (features to read). For each it prints
whether the layer is valid, its feature count, CRS, geometry type and fields, and every feature
read: its attributes and its geometry as WKT.
"""

import json
import sys

from qgis.core import (
    QgsApplication,
    QgsFeatureRequest,
    QgsRectangle,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QDate, QDateTime, QVariant


def plain(value):
    """A QGIS attribute value as JSON: NULL as null, dates as ISO text, lists and maps within."""
    if isinstance(value, QVariant):
        return None if value.isNull() else plain(value.value())
    if isinstance(value, QDateTime | QDate):
        return value.toString("yyyy-MM-ddTHH:mm:ss" if isinstance(value, QDateTime) else "yyyy-MM-dd")
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def load(uri: str, subset: str | None = None, rect: list | None = None, limit: int | None = None) -> dict:
    layer = QgsVectorLayer(uri, "layer", "OAPIF")
    if not layer.isValid():
        return {"isValid": False, "error": layer.error().summary()}
    if subset is not None and not layer.setSubsetString(subset):
        return {"isValid": True, "error": f"subset refused: {subset}"}
    request = QgsFeatureRequest()
    if rect is not None:
        request.setFilterRect(QgsRectangle(*rect))
    if limit is not None:
        request.setLimit(limit)
    features = [
        {
            "attributes": {name: plain(f[name]) for name in layer.fields().names()},
            "wkt": f.geometry().asWkt() if f.hasGeometry() else None,
        }
        for f in layer.getFeatures(request)
    ]
    return {
        "isValid": True,
        "featureCount": layer.featureCount(),
        "crs": layer.crs().authid(),
        "geometryType": QgsWkbTypes.displayString(layer.wkbType()),
        "fields": [[field.name(), field.typeName()] for field in layer.fields()],
        "subset": layer.subsetString(),
        "features": features,
    }


def main() -> None:
    app = QgsApplication([], False)
    app.initQgis()
    try:
        print(json.dumps([load(**spec) for spec in json.loads(sys.argv[1])]))
    finally:
        app.exitQgis()


if __name__ == "__main__":
    main()
