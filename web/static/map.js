/* Samenkaart: layers loaded by URL, styles, and popups built from text nodes (never innerHTML).
 * The page supplies its vocabulary and colours in <script type="application/json" id="samenkaart-config">. */
window.Samenkaart = (function () {
  "use strict";

  var config = { labels: { kinds: {}, themes: {}, statuses: {} }, colours: {}, choropleth: {} };
  var configElement = document.getElementById("samenkaart-config");
  if (configElement) { config = JSON.parse(configElement.textContent); }

  /* Leaflet speaks English; these pages are Dutch. Set before any map is made (Folium's script runs after this
     file): the zoom buttons, the layer switch, the popup's close button, the credit line, and a metric scale. */
  L.Control.Zoom.mergeOptions({ zoomInTitle: "Inzoomen", zoomOutTitle: "Uitzoomen" });
  L.Control.Scale.mergeOptions({ metric: true, imperial: false });
  L.Control.Attribution.mergeOptions({
    prefix: '<a href="https://leafletjs.com" title="Leaflet: software voor kaarten op het web">Leaflet</a>' });
  var layersLayout = L.Control.Layers.prototype._initLayout;
  L.Control.Layers.include({
    _initLayout: function () {
      layersLayout.call(this);
      if (this._layersLink) { this._layersLink.title = "Kaartlagen"; this._layersLink.setAttribute("aria-label", "Kaartlagen"); }
      this._container.setAttribute("aria-label", "Kaartlagen");
      this._container.setAttribute("role", "group");
    },
  });
  var popupLayout = L.Popup.prototype._initLayout;
  L.Popup.include({
    _initLayout: function () {
      popupLayout.call(this);
      if (this._closeButton) { this._closeButton.setAttribute("aria-label", "Sluiten"); this._closeButton.title = "Sluiten"; }
    },
  });

  /* Keyboard: a popup opened from a marker (Enter) takes the focus; Escape closes it and gives the focus back
     to the marker, as does its close button. Leaflet's own Escape works only while the map itself has focus. */
  L.Map.addInitHook(function () {
    var map = this, opener = null;
    map.on("popupopen", function (e) {
      var source = e.popup._source, element = source && source.getElement ? source.getElement() : null;
      opener = element && document.activeElement === element ? element : null;
      if (opener) {
        var content = e.popup.getElement().querySelector(".leaflet-popup-content");
        var target = content.querySelector("a[href]") || content;
        if (target === content) { content.setAttribute("tabindex", "-1"); }
        target.focus();
      }
    });
    map.on("popupclose", function (e) {
      var popup = e.popup.getElement();
      if (opener && (!document.activeElement || document.activeElement === document.body
                     || (popup && popup.contains(document.activeElement)))) { opener.focus(); }
      opener = null;
    });
    map.getContainer().addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || !map._popup || !map.hasLayer(map._popup)) { return; }
      var source = map._popup._source, element = source && source.getElement ? source.getElement() : null;
      opener = opener || element;
      map.closePopup();
      if (element && document.activeElement !== element) { element.focus(); }
      event.stopPropagation();
    });
  });

  /* Marker clusters are buttons: named "3 initiatieven", not just "3". */
  function clusterIcon(cluster) {
    var n = cluster.getChildCount(), size = n < 10 ? "small" : n < 100 ? "medium" : "large";
    var inner = document.createElement("div");
    inner.appendChild(text("span", n));
    var icon = new L.DivIcon({ html: inner, className: "marker-cluster marker-cluster-" + size,
                               iconSize: new L.Point(40, 40) });
    var create = icon.createIcon;
    icon.createIcon = function (old) {
      var element = create.call(icon, old);
      var name = n + (n === 1 ? " initiatief" : " initiatieven");
      element.setAttribute("aria-label", name);
      element.title = name;
      return element;
    };
    return icon;
  }

  /* Leaflet's tooltips make every shape focusable, which would add hundreds of nameless Tab stops;
     the lists and tables beside the map are the keyboard route, markers stay reachable. */
  L.Path.addInitHook(function () {
    this.on("add", function () { var el = this.getElement(); if (el) { el.setAttribute("tabindex", "-1"); } });
  });

  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value === null || value === undefined ? "" : String(value);
    if (className) { node.className = className; }
    return node;
  }

  /* Only http(s) websites become links: a javascript: or data: URL stays text. */
  function safeUrl(raw) {
    if (!raw) { return null; }
    try {
      var url = new URL(String(raw), window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) { return null; }
  }

  function link(href, label) {
    var a = text("a", label);
    a.href = href;
    return a;
  }

  function metres(value, step) {
    if (value === null || value === undefined) { return ""; }
    if (step) {  // measured from a postcode area's centre: no more precise than that
      value = Math.round(value / step) * step;
      if (value < step) { return "minder dan " + step + " m"; }
    }
    return value < 1000 ? Math.round(value) + " m" : (value / 1000).toFixed(1).replace(".", ",") + " km";
  }

  function number(value) {
    return value === null || value === undefined ? "onbekend" : Number(value).toLocaleString("nl-NL");
  }

  function row(list, label, value) {
    if (value === null || value === undefined || value === "") { return; }
    list.appendChild(text("dt", label));
    var dd = document.createElement("dd");
    if (value instanceof Node) { dd.appendChild(value); } else { dd.textContent = String(value); }
    list.appendChild(dd);
  }

  function labelled(vocabulary, key) { return (config.labels[vocabulary] || {})[key] || key; }

  function initiativePopup(p, options) {
    var box = document.createElement("div");
    box.className = "popup";
    var title = text("h3", "");
    title.appendChild(link("/initiatief/" + encodeURIComponent(p.id), p.name));
    box.appendChild(title);
    var list = document.createElement("dl");
    row(list, "Soort", labelled("kinds", p.kind));
    row(list, "Thema's", (p.themes || []).map(function (t) { return labelled("themes", t); }).join(", "));
    if (p.distance_m !== undefined) { row(list, "Afstand", metres(p.distance_m, (options || {}).distanceStep)); }
    var site = safeUrl(p.website);
    row(list, "Website", site ? link(site, p.website) : p.website);
    box.appendChild(list);
    return box;
  }

  function unitPopup(p) {
    var box = document.createElement("div");
    box.className = "popup";
    box.appendChild(text("h3", p.naam + " (" + p.code + ")"));
    var list = document.createElement("dl");
    row(list, "Status", labelled("statuses", p.status));
    row(list, "Inwoners", number(p.aantal_inwoners));
    row(list, "Initiatieven in het gebied", p.n_initiatives);
    row(list, "Initiatieven binnen loopafstand", p.n_nearby);
    row(list, "Dichtstbijzijnde initiatief", p.nearest_m === null ? "geen binnen 50 km" : metres(p.nearest_m));
    row(list, "Bedekt door partners", p.coverage === null || p.coverage === undefined ? null
      : Math.round(p.coverage * 100) + " %");
    needRows(list, p);
    box.appendChild(list);
    return box;
  }

  /* need and priority (issue 12): the figures, and the indicators that stand out in words */
  function needRows(list, p) {
    if (p.need === undefined) { return; }
    row(list, "Behoefte", p.need === null ? "onbekend"
      : p.need.toLocaleString("nl-NL", { maximumFractionDigits: 2 }) + (p.need_reasons ? " (" + p.need_reasons + ")" : ""));
    if (p.priority !== null && p.priority !== undefined) { row(list, "Prioriteit", number(Math.round(p.priority))); }
    if (p.nearest_initiative) { row(list, "Dichtstbijzijnde initiatief", p.nearest_initiative); }
  }

  /* a unit in the colour of its class of options.property (need or priority), with the page's own classes */
  function unitChoropleth(p, options) {
    return { color: "#333333", weight: 1, fillOpacity: 0.7, fillColor: choroplethColour(p[options.property], options) };
  }

  function serviceAreaPopup(p) {
    var box = document.createElement("div");
    box.className = "popup";
    box.appendChild(text("h3", p.name || "Werkgebied"));
    if (p.partner_name) { box.appendChild(text("p", p.partner_name)); }
    return box;
  }

  function regionPopup(p) {
    var box = document.createElement("div");
    box.className = "popup";
    box.appendChild(text("h3", "Regio " + p.rank));
    var list = document.createElement("dl");
    row(list, "Inwoners", number(p.aantal_inwoners));
    if (p.priority !== undefined) { row(list, "Prioriteit", number(Math.round(p.priority))); }
    row(list, "Buurten of wijken", p.n_units !== undefined ? p.n_units : (p.units || []).length);
    box.appendChild(list);
    return box;
  }

  function choroplethColour(value, options) {
    var bins = options.bins || [], colours = options.colours || [];
    if (value === null || value === undefined) { return options.missing || "#bdbdbd"; }
    for (var i = 0; i < bins.length; i++) { if (value < bins[i]) { return colours[i]; } }
    return colours[colours.length - 1];
  }

  function gemeentePopup(p, options) {
    var box = document.createElement("div");
    box.className = "popup";
    var title = text("h3", "");
    title.appendChild(link("/gemeente/" + encodeURIComponent(p.gemeentecode), p.naam));
    box.appendChild(title);
    var list = document.createElement("dl");
    row(list, "Inwoners", number(p.aantal_inwoners));
    row(list, "Inwoners in witte vlekken", p.white_spot_share === null || p.white_spot_share === undefined
      ? "onbekend" : (Math.round(p.white_spot_share * 1000) / 10).toLocaleString("nl-NL") + " %");
    row(list, "Initiatieven per 1.000 inwoners", number(p.initiatives_per_1000));
    box.appendChild(list);
    return box;
  }

  /* A gemeente in the colour of its class of options.property (the chosen choropleth). */
  function gemeenteStyle(p, options) {
    var choropleth = config.choropleth[options.property] || {};
    return { color: "#555555", weight: 0.6, fillOpacity: 0.75,
             fillColor: choroplethColour(p[options.property], choropleth) };
  }

  var STYLES = {
    units: function (f) {
      return { color: "#333333", weight: 1, fillOpacity: config.statusOpacity || 0.75,
               fillColor: config.colours[f.properties.status] || "#bdbdbd" };
    },
    service_areas: function () { return { color: "#0b4f6c", weight: 2, dashArray: "6 4", fillOpacity: 0.08 }; },
    regions: function () { return { color: "#5e3c99", weight: 3, fillOpacity: 0.15 }; },
    area: function () { return { color: "#0b4f6c", weight: 3, fillOpacity: 0.05 }; },
  };

  var POPUPS = {
    initiatives: initiativePopup, units: unitPopup, service_areas: serviceAreaPopup,
    regions: regionPopup, gemeenten: gemeentePopup,
  };

  function tooltipText(kind, p, options) {
    if (kind === "units" && options && options.property === "need") {
      return p.naam + ": behoefte " + (p.need === null ? "onbekend" : p.need.toLocaleString("nl-NL", { maximumFractionDigits: 2 }));
    }
    if (kind === "units" && options && options.property === "priority") {
      return p.naam + ": " + (p.priority === null ? labelled("statuses", p.status) : "prioriteit " + number(Math.round(p.priority)));
    }
    if (kind === "units") { return p.naam + ": " + labelled("statuses", p.status); }
    if (kind === "gemeenten") { return p.naam; }
    if (kind === "regions") { return "Regio " + p.rank + ": " + number(p.aantal_inwoners) + " inwoners"; }
    return p.name || p.naam || "";
  }

  /* One line per layer in the live region, so a failed layer is not overwritten by the next one. */
  var statusLines = {};
  function say(message, key) {
    var live = document.getElementById("map-status");
    if (!live) { return; }
    key = key || "";
    if (!statusLines[key]) {
      statusLines[key] = document.createElement("span");
      statusLines[key].className = "map-status-line";
      live.appendChild(statusLines[key]);
    }
    statusLines[key].textContent = message + " ";
  }

  function geoJsonLayer(data, options) {
    var kind = options.kind;
    return L.geoJSON(data, {
      style: kind === "gemeenten" ? function (f) { return gemeenteStyle(f.properties, options); }
        : kind === "units" && options.property ? function (f) { return unitChoropleth(f.properties, options); }
        : STYLES[kind],
      pointToLayer: function (f, latlng) {
        var name = f.properties.name || "Initiatief";
        return L.marker(latlng, { alt: name, title: name, keyboard: true });
      },
      onEachFeature: function (f, layer) {
        var popup = POPUPS[kind];
        if (popup) { layer.bindPopup(popup(f.properties, options)); }
        if (kind !== "initiatives") {
          layer.bindTooltip(text("span", tooltipText(kind, f.properties, options)), { sticky: true });
        }
      },
    });
  }

  /* Figures by area code that the page embeds as <script type="application/json" id=...> (data, never run):
     {"keys": [k1, k2], "values": {code: [v1, v2]}} becomes {code: {k1: v1, k2: v2}}. */
  function embeddedFigures(id) {
    var element = id ? document.getElementById(id) : null, figures = {};
    if (!element) { return figures; }
    try {
      var data = JSON.parse(element.textContent), keys = data.keys || [];
      Object.keys(data.values || {}).forEach(function (code) {
        var row = {};
        keys.forEach(function (key, i) { row[key] = data.values[code][i]; });
        figures[code] = row;
      });
    } catch (e) { return {}; }
    return figures;
  }

  /* A layer drawn from vector tiles (url: /tiles/<layer>/{z}/{x}/{y}.mvt) with Leaflet.VectorGrid, so a page
   * fetches only the tiles in view, never the whole country. A tile feature carries code, naam and
   * aantal_inwoners; the rest of what colours and describes it comes from options.figures, looked up by code.
   * SVG rather than canvas: VectorGrid's canvas tiles call DOM-event helpers that Leaflet 1.9 renamed, and SVG
   * shapes can be checked in tests. Popups and tooltips are built from text nodes, as for the GeoJSON layers. */
  function loadTiles(group, url, options) {  // group: a FeatureGroup or the map itself
    var kind = options.kind;
    if (!L.vectorGrid) {
      say(options.name + " kon niet worden geladen. De lijst op deze pagina werkt wel.", options.name);
      return Promise.resolve();
    }
    var figures = embeddedFigures(options.figures);
    var context = kind === "context";  // outlines around what the page is about: no fill, no clicks

    function properties(p) {
      var merged = { gemeentecode: p.code };
      Object.keys(p).forEach(function (key) { merged[key] = p[key]; });
      var extra = figures[p.code] || {};
      Object.keys(extra).forEach(function (key) { merged[key] = extra[key]; });
      return merged;
    }

    function style(p) {
      if (context) { return { fill: false, color: "#4d4d4d", weight: 1.2, opacity: 0.9, dashArray: "4 3" }; }
      var merged = properties(p);
      var path = kind === "gemeenten" ? gemeenteStyle(merged, options) : STYLES[kind]({ properties: merged });
      path.fill = true;  // VectorGrid starts from L.Path's defaults, which do not fill
      return path;
    }

    var styles = {};
    styles[options.tiles] = style;
    var grid = L.vectorGrid.protobuf(url, {
      rendererFactory: L.svg.tile, vectorTileLayerStyles: styles, interactive: !context,
      // the data layers above the base map; the context below them, but still over the base map
      pane: context ? "tilePane" : "overlayPane", zIndex: 10,
      getFeatureId: function (f) { return f.properties.code; },
      maxNativeZoom: 22, attribution: "",
    });

    if (!context) {
      // the group may join the map later (a layer switched off at first): find the map when it is used
      var tip = null;
      grid.on("click", function (e) {
        var popup = POPUPS[kind];
        if (popup && grid._map && e.layer && e.layer.properties) {
          L.popup().setLatLng(e.latlng).setContent(popup(properties(e.layer.properties), options)).openOn(grid._map);
        }
      });
      grid.on("mouseover", function (e) {
        if (!grid._map || !e.layer || !e.layer.properties) { return; }
        if (tip) { grid._map.closeTooltip(tip); }
        tip = L.tooltip({ sticky: true }).setLatLng(e.latlng)
          .setContent(text("span", tooltipText(kind, properties(e.layer.properties))));
        grid._map.openTooltip(tip);
      });
      grid.on("mousemove", function (e) { if (tip) { tip.setLatLng(e.latlng); } });
      grid.on("mouseout remove", function () { if (tip && grid._map) { grid._map.closeTooltip(tip); } tip = null; });
    }

    /* Loaded = every tile in view is drawn; the count is the areas on the map (an area cut by tile edges
       is drawn once per tile, counted once). */
    grid.on("load", function () {
      var codes = {};
      Object.keys(grid._vectorTiles || {}).forEach(function (key) {
        Object.keys(grid._vectorTiles[key]._features || {}).forEach(function (code) { codes[code] = true; });
      });
      var count = Object.keys(codes).length;
      group.samenkaartLoaded = count;
      document.documentElement.dataset["layer_" + kind] = String(count);
      if (!context) { say(options.name + ": " + count + " op de kaart.", options.name); }
    });
    if (group instanceof L.Map) {
      // a page that fits its view (the dashboard) starts that zoom animation in the next frame: wait for it
      // to end, or the tiles of the zoom it leaves are fetched for nothing (_animatingZoom: Leaflet's own flag)
      L.Util.requestAnimFrame(function () {
        if (group._animatingZoom) { group.once("zoomend", function () { group.addLayer(grid); }); }
        else { group.addLayer(grid); }
      });
    } else {
      group.addLayer(grid);
    }
    return Promise.resolve(grid);
  }

  /* Fetch a GeoJSON URL into a FeatureGroup; failures are told in the page, not thrown.
     With options.tiles the URL is a vector-tile template instead (loadTiles). */
  function loadLayer(group, url, options) {
    if (options.tiles) { return loadTiles(group, url, options); }
    return fetch(url, { headers: { Accept: "application/geo+json, application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (data) {
        var layer = geoJsonLayer(data, options);
        if (options.cluster && L.markerClusterGroup) {
          var clusters = L.markerClusterGroup({ showCoverageOnHover: false, iconCreateFunction: clusterIcon });
          clusters.addLayer(layer);
          group.addLayer(clusters);
        } else {
          group.addLayer(layer);
        }
        var map = group._map;
        if (options.fit && map && layer.getBounds().isValid()) {
          map.samenkaartFit = layer.getBounds();  // again when a hidden map is shown (the list/map switch)
          map.fitBounds(map.samenkaartFit, { maxZoom: 16 });
        }
        var count = data.type === "Feature" ? 1 : (data.features || []).length;
        group.samenkaartLoaded = count;
        document.documentElement.dataset["layer_" + options.kind] = String(count);
        say(options.name + ": " + count + " op de kaart.", options.name);
      })
      .catch(function () {
        say(options.name + " kon niet worden geladen. De lijst op deze pagina werkt wel.", options.name);
      });
  }

  function searchedPoint(map, lat, lon, label) {
    L.circleMarker([lat, lon], { radius: 9, color: "#e07a00", weight: 3, fillColor: "#ffffff", fillOpacity: 1 })
      .bindTooltip(text("span", "Gezocht: " + label), { permanent: false })
      .addTo(map);
  }

  /* Clicking the map searches from that point: the form gets lat/lon and is submitted. Zoomed out further than
     minZoom (the whole country: a pixel is hundreds of metres) a click zooms in towards that point instead. */
  function pickPoint(map, formId, minZoom) {
    var form = document.getElementById(formId);
    if (!form) { return; }
    map.on("click", function (event) {
      if (minZoom && map.getZoom() < minZoom) {
        map.setView(event.latlng, Math.min(map.getZoom() + 3, minZoom));
        say("Ingezoomd. Klik nog eens op de plek waar je wilt zoeken, of typ een adres of postcode.", "pick");
        return;
      }
      form.elements.lat.value = event.latlng.lat.toFixed(6);
      form.elements.lon.value = event.latlng.lng.toFixed(6);
      if (form.elements.q) { form.elements.q.value = ""; }
      form.submit();
    });
  }

  /* "Gebruik mijn locatie": fills lat/lon from the browser and submits the form. */
  function locateButton(buttonId, formId) {
    var button = document.getElementById(buttonId), form = document.getElementById(formId);
    if (!button || !form) { return; }
    if (!navigator.geolocation) { button.hidden = true; return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      say("Je locatie wordt opgevraagd …");
      navigator.geolocation.getCurrentPosition(function (position) {
        form.elements.lat.value = position.coords.latitude.toFixed(6);
        form.elements.lon.value = position.coords.longitude.toFixed(6);
        if (form.elements.q) { form.elements.q.value = ""; }
        form.submit();
      }, function () {
        say("Je locatie is niet beschikbaar. Typ een adres of postcode.");
      }, { timeout: 10000 });
    });
  }

  /* Narrow screens: "Lijst" or "Kaart" above the results shows one of the two (CSS hides the other). */
  var maps = [];
  L.Map.addInitHook(function () { maps.push(this); });
  function viewSwitch() {
    var layout = document.querySelector(".search-layout"), group = document.querySelector(".view-switch");
    if (!layout || !group) { return; }
    group.hidden = false;
    layout.classList.add("switching");
    group.querySelectorAll("button").forEach(function (button) {
      button.addEventListener("click", function () {
        layout.dataset.view = button.dataset.view;
        group.querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
        if (button.dataset.view === "map") {
          maps.forEach(function (m) {
            m.invalidateSize();
            if (m.samenkaartFit) { m.fitBounds(m.samenkaartFit, { maxZoom: 16 }); }
          });
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    locateButton("use-location", "search-form");
    viewSwitch();
  });

  /* Outlines of the areas around what a page shows (e.g. the neighbouring gemeenten), from vector tiles: a
     background like the base map, so not a switchable layer and not a layer the page waits for. */
  function contextTiles(map, url, options) {
    return loadTiles(map, url, { kind: "context", tiles: options.tiles, name: options.name || "Omgeving" });
  }

  return { loadLayer: loadLayer, contextTiles: contextTiles, searchedPoint: searchedPoint, pickPoint: pickPoint,
           safeUrl: safeUrl };
})();

/* Forms with a point (submissions, moderation, partner editing): clicking the map fills the form's lat/lon
 * fields without submitting it, and shows the point (with the circle of the form's radius_m where it has one),
 * redrawn while the fields are typed in. Without JavaScript the fields still work. It listens to
 * "preclick", which the map fires for every click, also on a service area (whose popup stops "click"). */
window.Samenkaart.fillPoint = function (map, formId) {
  "use strict";
  var form = document.getElementById(formId);
  if (!form || !form.elements.lat || !form.elements.lon) { return; }
  var marker = null, circle = null;

  function number(field) {
    var value = field ? parseFloat(String(field.value).replace(",", ".")) : NaN;
    return isFinite(value) ? value : null;
  }

  function draw() {
    var lat = number(form.elements.lat), lon = number(form.elements.lon), radius = number(form.elements.radius_m);
    if (circle) { map.removeLayer(circle); circle = null; }
    if (lat === null || lon === null || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      if (marker) { map.removeLayer(marker); marker = null; }
      return;
    }
    if (marker) { marker.setLatLng([lat, lon]); } else {
      marker = L.circleMarker([lat, lon], { radius: 7, color: "#e07a00", weight: 3, fillColor: "#ffffff",
                                            fillOpacity: 1, interactive: false }).addTo(map);
    }
    if (radius !== null && radius > 0 && radius <= 100000) {
      circle = L.circle([lat, lon], { radius: radius, color: "#e07a00", weight: 2, fillOpacity: 0.1,
                                      interactive: false }).addTo(map);
    }
  }

  map.on("preclick", function (event) {
    form.elements.lat.value = event.latlng.lat.toFixed(6);
    form.elements.lon.value = event.latlng.lng.toFixed(6);
    draw();
    var live = document.getElementById("map-status");
    if (live) {
      live.textContent = "Punt gekozen: " + form.elements.lat.value + ", " + form.elements.lon.value + ".";
    }
  });
  ["lat", "lon", "radius_m"].forEach(function (name) {
    if (form.elements[name]) { form.elements[name].addEventListener("input", draw); }
  });
  draw();
};
