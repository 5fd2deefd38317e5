// The planning page's map: each team's route as a coloured line through its numbered
// stops, dropped visits as grey rings. Tiles only when the page names a tile URL
// (data-tiles); without one the routes are drawn on a blank background, offline.
(function () {
  "use strict";
  function draw() {
    var box = document.getElementById("plan-map");
    var source = document.getElementById("plan-geo");
    if (!box || !source || typeof L === "undefined") { return; }
    var geo = JSON.parse(source.textContent || "{}");
    var map = L.map(box, { zoomControl: true, attributionControl: !!box.dataset.tiles });
    if (box.dataset.tiles) {
      L.tileLayer(box.dataset.tiles, { maxZoom: 19 }).addTo(map);
    }
    var bounds = [];
    (geo.routes || []).forEach(function (route) {
      var line = [];
      if (route.base) { line.push(route.base); }
      route.stops.forEach(function (s) { line.push([s[0], s[1]]); });
      if (route.base) { line.push(route.base); }
      if (line.length > 1) {
        L.polyline(line, { color: route.colour, weight: 3, opacity: 0.85 }).addTo(map);
      }
      route.stops.forEach(function (s) {
        bounds.push([s[0], s[1]]);
        L.circleMarker([s[0], s[1]], { radius: 9, color: route.colour, fillColor: "#fff", fillOpacity: 1, weight: 2 })
          .bindTooltip(String(s[2] || ""), { permanent: true, direction: "center", className: "stop-label" })
          .bindPopup(route.team + " · #" + s[2] + " · " + s[3])
          .addTo(map);
      });
      if (route.base) {
        bounds.push(route.base);
        L.circleMarker(route.base, { radius: 5, color: route.colour, fillColor: route.colour, fillOpacity: 1 })
          .bindPopup(route.team).addTo(map);
      }
    });
    (geo.dropped || []).forEach(function (s) {
      bounds.push([s[0], s[1]]);
      L.circleMarker([s[0], s[1]], { radius: 6, color: "#8a94a3", dashArray: "2 3", fillOpacity: 0 })
        .bindPopup(String(s[2])).addTo(map);
    });
    if (bounds.length) { map.fitBounds(bounds, { padding: [24, 24] }); } else { map.setView([35, 110], 4); }
    box.dataset.ready = "1";
  }
  // Drag a stop (a row with a move form) onto another team's route to move it there.
  function dragging() {
    var moving = null;
    document.querySelectorAll("tr.plan-stop").forEach(function (row) {
      if (!row.querySelector("form.move-stop")) { return; }
      row.draggable = true;
      row.addEventListener("dragstart", function (e) {
        moving = row;
        e.dataTransfer.effectAllowed = "move";
        e.dataTransfer.setData("text/plain", row.dataset.stop || "");
      });
      row.addEventListener("dragend", function () { moving = null; });
    });
    document.querySelectorAll("section.route[data-team]").forEach(function (section) {
      section.addEventListener("dragover", function (e) {
        if (moving && moving.closest("section.route") !== section) {
          e.preventDefault();
          section.classList.add("drop-here");
        }
      });
      section.addEventListener("dragleave", function () { section.classList.remove("drop-here"); });
      section.addEventListener("drop", function (e) {
        e.preventDefault();
        section.classList.remove("drop-here");
        if (!moving) { return; }
        var form = moving.querySelector("form.move-stop");
        var select = form.querySelector("select[name=team_id]");
        select.value = section.dataset.team;
        if (select.value === section.dataset.team) { form.submit(); }
      });
    });
  }
  function start() { draw(); dragging(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
