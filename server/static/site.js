/* Sanduq's one script. Every page works without it; it adds: resuming media where this
   phone left off, the next item when one ends, turning book pages and reading aloud, full
   screen games, suggestions while typing, course progress and today's class, all kept on
   this device (localStorage), never on the box. Written for Chrome 60 on old phones.
   One init function per feature, each doing nothing on a page without its feature; they
   are started from the list at the bottom. */
(function () {
  "use strict";
  var store = {
    get: function (k, d) { try { var v = localStorage.getItem("sanduq:" + k); return v === null ? d : JSON.parse(v); } catch (e) { return d; } },
    set: function (k, v) { try { localStorage.setItem("sanduq:" + k, JSON.stringify(v)); } catch (e) { /* full or private mode */ } },
    del: function (k) { try { localStorage.removeItem("sanduq:" + k); } catch (e) { /* ignore */ } }
  };
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function send(type, item, value) {
    var event = { type: type, item: item };
    if (value !== undefined) { event.value = value; }
    try {
      fetch("/api/events", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ events: [event] }), keepalive: true, credentials: "same-origin" });
    } catch (e) { /* usage is never worth an error */ }
  }
  var article = $("article[data-item]");
  var itemId = article && article.getAttribute("data-item");
  var classroom = /[?&]classroom=1/.test(location.search);
  // On the classroom's stage this page is the frame of the classroom page (same origin).
  var stage = classroom && window.parent !== window ? window.parent : null;

  function finished() {
    if (!itemId) { return; }
    store.set("done:" + itemId, new Date().toISOString().slice(0, 10));
    send("finished", itemId);
  }

  function goNext() {
    var list = store.get("playlist", []);
    var at = list.indexOf(itemId);
    if (classroom && at >= 0 && at + 1 < list.length) {
      location.href = "/item/" + encodeURIComponent(list[at + 1]) + "?classroom=1";
      return;
    }
    if (stage) { stage.postMessage({ type: "sanduq:class-ended" }, location.origin); return; }
    var next = $("[data-next]");
    if (next) { next.classList.add("show"); next.focus(); next.scrollIntoView({ behavior: "smooth", block: "center" }); }
  }

  // Video and audio: resume, progress, next; full screen and awake in class.
  function initMedia() {
    var media = $("[data-media]");
    if (!media || !itemId) { return; }
    var key = "pos:" + itemId, saved = 0, reported = 0, wakeLock = null;
    var resume = function () {
      var pos = store.get(key, 0);
      if (pos > 1 && pos < media.duration - 2) { media.currentTime = pos; }
    };
    // The script is deferred: the metadata may have arrived before it runs.
    if (media.readyState >= 1) { resume(); } else { media.addEventListener("loadedmetadata", resume); }
    media.addEventListener("timeupdate", function () {
      var now = media.currentTime;
      if (Math.abs(now - saved) >= 2) { saved = now; store.set(key, now); }
      var quarter = media.duration ? Math.floor(4 * now / media.duration) / 4 : 0;
      if (quarter > reported && quarter < 1) { reported = quarter; send("progress", itemId, quarter); }
    });
    media.addEventListener("ended", function () { store.del(key); finished(); goNext(); });
    media.addEventListener("play", function () {
      // The teacher's tablet must not dim mid-video (Chrome 84+; older Chrome keeps it awake while playing).
      if (navigator.wakeLock && !wakeLock) {
        navigator.wakeLock.request("screen").then(function (l) { wakeLock = l; l.addEventListener("release", function () { wakeLock = null; }); }, function () {});
      }
      // On the stage the classroom page is full screen already; opened on its own, try.
      if (classroom && !stage && media.requestFullscreen && !document.fullscreenElement) { media.requestFullscreen().catch(function () {}); }
    });
    if (classroom) { media.autoplay = true; media.play().catch(function () {}); }
  }

  // Picture books: buttons, keys, page number, finished on the last page. Each page shown
  // is announced as a "sanduq:page" event on the book, which reading aloud listens to.
  function initBook() {
    var book = $("#book");
    if (!book) { return; }
    var pages = $$(".page", book), current = 0;
    var controls = $("[data-book-controls]"), number = $("[data-page-number]");
    controls.hidden = false;
    // "Read to me" plays the narration: each page's own player is for a phone without this script.
    $$("audio[data-narration]", book).forEach(function (a) { a.hidden = true; });
    function show(i) {
      current = Math.max(0, Math.min(pages.length - 1, i));
      number.textContent = (current + 1) + " / " + pages.length;
      book.dispatchEvent(new CustomEvent("sanduq:page", { detail: pages[current] }));
      if (current === pages.length - 1) { finished(); }
    }
    function turn(by) {
      // On the classroom's stage, the last page turned (or read) moves on to the next item.
      if (classroom && by > 0 && current === pages.length - 1) { goNext(); return; }
      var to = Math.max(0, Math.min(pages.length - 1, current + by));
      // Scroll the book alone (scrollIntoView would move the whole page too), at once: a
      // smooth scroll fights the snapping and the pictures loading as they come into view.
      book.scrollLeft = pages[to].offsetLeft - pages[0].offsetLeft;
      show(to);
    }
    book.addEventListener("sanduq:turn", function () { if (current < pages.length - 1 || classroom) { turn(1); } });
    $$("[data-turn]", controls).forEach(function (b) { b.addEventListener("click", function () { turn(+b.getAttribute("data-turn")); }); });
    book.addEventListener("keydown", function (e) { if (e.key === "ArrowRight") { turn(1); } if (e.key === "ArrowLeft") { turn(-1); } });
    var settle;
    book.addEventListener("scroll", function () {
      clearTimeout(settle);
      settle = setTimeout(function () { var i = Math.round(book.scrollLeft / (pages.length > 1 ? pages[1].offsetLeft - pages[0].offsetLeft : 1)); if (i !== current) { show(i); } }, 120);
    });
    number.textContent = "1 / " + pages.length;
    // The pictures take the height the screen has left once the longest page's words and the
    // buttons are placed, so picture, words and buttons are on one screen on any phone.
    function fit(opening) {
      var pictures = $$("img", book), words = 0;
      pages.forEach(function (page) { var img = $("img", page); words = Math.max(words, page.offsetHeight - (img ? img.offsetHeight : 0)); });
      var top = book.getBoundingClientRect().top + window.pageYOffset;
      var room = window.innerHeight - top - controls.offsetHeight - words - 16;
      // A short screen (a phone on its side): the page moves up to the book when it opens
      // (only then, as for a game).
      if (room < 120) {
        if (opening) { window.scrollTo(0, top - 4); }
        room = window.innerHeight - 4 - controls.offsetHeight - words - 16;
      }
      pictures.forEach(function (img) { img.style.maxHeight = Math.max(60, room) + "px"; });
    }
    fit(true);
    window.addEventListener("resize", function () { fit(false); });
  }

  // Read to me: each page's narration plays as the page turns, and when it ends the page
  // turns by itself, to the end of the book, while the button is pressed (the choice is kept
  // for the next book).
  function initReadAloud() {
    var book = $("#book"), button = $("[data-read-aloud]");
    if (!book || !button) { return; }
    var aloud = store.get("aloud", false), page = $(".page", book), reading = false;
    function play() {
      $$("audio", book).forEach(function (a) { a.pause(); });
      reading = false;
      var voice = $("audio", page);
      if (aloud && voice) { reading = true; voice.currentTime = 0; voice.play().catch(function () {}); }
    }
    book.addEventListener("sanduq:page", function (e) { page = e.detail; play(); });
    $$("audio", book).forEach(function (a) {
      a.addEventListener("ended", function () {
        if (aloud && a.parentNode === page) { setTimeout(function () { book.dispatchEvent(new CustomEvent("sanduq:turn")); }, 700); }
      });
    });
    button.setAttribute("aria-pressed", String(aloud));
    button.addEventListener("click", function () {
      // The choice is kept for the next book, where the button opens pressed but silent
      // (a browser plays only after a tap): that first tap reads, it does not switch off.
      if (!(aloud && !reading)) { aloud = !aloud; }
      store.set("aloud", aloud);
      button.setAttribute("aria-pressed", String(aloud));
      play();
    });
  }

  // Games: full screen, and the game's own "finished" message.
  function initGame() {
    $$("[data-fullscreen]").forEach(function (button) {
      var target = document.getElementById(button.getAttribute("data-fullscreen"));
      var request = target.requestFullscreen || target.webkitRequestFullscreen;
      if (!request) { return; }
      button.hidden = false;
      button.addEventListener("click", function () { request.call(target); });
    });
    var frame = $(".game iframe");
    if (!frame) { return; }
    frame.parentNode.hidden = false;  // shown only with this script (item/_frame.html)
    function fit(opening) {
      if (document.fullscreenElement || document.webkitFullscreenElement) { frame.style.height = ""; return; }
      var top = frame.getBoundingClientRect().top + window.pageYOffset, room = window.innerHeight - top - 8;
      // A short screen (a phone on its side): the game fills it, and when the page opens it
      // moves up to the game (only then: a phone's address bar hiding as the reader scrolls
      // fires resize, and the page must not jump back under their finger).
      if (room < 280) {
        if (opening) { window.scrollTo(0, top - 4); }
        room = window.innerHeight - 8;
      }
      frame.style.height = room + "px";
    }
    fit(true);
    window.addEventListener("resize", function () { fit(false); });
    // Leaving full screen: back to the game, as when the page opened.
    document.addEventListener("fullscreenchange", function () { fit(true); });
    document.addEventListener("webkitfullscreenchange", function () { fit(true); });
    var done = false;
    window.addEventListener("message", function (e) {
      if (e.source !== frame.contentWindow || done) { return; }
      if (e.data && e.data.type === "sanduq:finished") { done = true; finished(); goNext(); return; }
      // bloom-player (told independent=false) sends its reports here as JSON text: the book
      // is read when its last page was, or when reading aloud reached the end.
      var said = null;
      try { said = typeof e.data === "string" ? JSON.parse(e.data) : null; } catch (err) { return; }
      if (said && (said.messageType === "playbackComplete" ||
          (said.messageType === "updateBookProgressReport" && said.params && said.params.lastNumberedPageRead))) {
        done = true; finished();
      }
    });
  }

  // The item's action bar holds only buttons that need this script: it shows with the first
  // of them that is shown.
  function initItemActions() {
    var actions = $("[data-item-actions]");
    if (actions && $$("button", actions).some(function (b) { return !b.hidden; })) { actions.hidden = false; }
  }

  // "I have done this", for what is read or done away from the screen.
  function initDone() {
    var done = $("[data-mark-done]");
    if (!done) { return; }
    done.hidden = false;
    if (store.get("done:" + itemId, null)) { done.disabled = true; }
    done.addEventListener("click", function () { finished(); done.disabled = true; goNext(); });
  }

  // "Add to today's class" on an item page, for a teacher: a device that has opened the
  // classroom page. Parents never see it.
  function initAddToClass() {
    var add = $("[data-playlist-add]");
    if (!add || !store.get("teacher", false)) { return; }
    add.hidden = false;
    var label = function () { if (store.get("playlist", []).indexOf(itemId) >= 0) { add.textContent = add.getAttribute("data-added-label"); add.disabled = true; } };
    label();
    add.addEventListener("click", function () { var l = store.get("playlist", []); l.push(itemId); store.set("playlist", l); label(); });
  }

  // The take-home list (server/takehome.py): ids kept on this phone, shown by the box with
  // their sizes once they are in the page's address.
  function initTakeHome() {
    var add = $("[data-takehome-add]");
    if (add) {
      var id = add.getAttribute("data-takehome-add");
      var label = function () { if (store.get("takehome", []).indexOf(id) >= 0) { add.textContent = add.getAttribute("data-added-label"); add.disabled = true; } };
      add.hidden = false;
      label();
      add.addEventListener("click", function () {
        var list = store.get("takehome", []);
        if (list.indexOf(id) < 0) { list.push(id); store.set("takehome", list); }
        label();
      });
    }
    var page = $("[data-takehome]");
    if (!page) { return; }
    var show = function () {  // true when the page is being replaced by the one for the list
      var wanted = store.get("takehome", []).join(","), shown = /[?&]items=([^&]*)/.exec(location.search);
      if (wanted === (shown ? decodeURIComponent(shown[1]) : "")) { return false; }
      location.replace("/take-home" + (wanted ? "?items=" + encodeURIComponent(wanted) : ""));
      return true;
    };
    if (show()) { return; }
    $$("[data-takehome-remove]", page).forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var id = button.getAttribute("data-takehome-remove");
        store.set("takehome", store.get("takehome", []).filter(function (x) { return x !== id; }));
        show();
      });
    });
  }

  // A course: its lessons done on this device ticked, and the bar filled to match.
  function initCourseProgress() {
    var modules = $("[data-course]");
    if (!modules) { return; }
    var lessons = $$("[data-lesson]", modules), count = 0;
    lessons.forEach(function (li) { if (store.get("done:" + li.getAttribute("data-lesson"), null)) { count++; $(".done-mark", li).hidden = false; } });
    var bar = $("[data-course-progress]"), label = $("[data-progress-label]", bar), meter = $(".progress", bar);
    var percent = lessons.length ? Math.round(100 * count / lessons.length) : 0;
    bar.hidden = false;
    label.textContent = label.getAttribute("data-label").replace("%(done)s", count).replace("%(all)s", lessons.length);
    meter.setAttribute("aria-valuenow", String(percent));
    meter.firstElementChild.style.width = percent + "%";
  }

  // The record of completion: given only when every lesson is done on this phone; the name
  // typed on it, and the day the last lesson was done.
  function initRecord() {
    var record = $("[data-record]");
    if (!record) { return; }
    var name = $("#name");
    name.value = store.get("name", "");
    name.addEventListener("change", function () { store.set("name", name.value); });
    fetch("/api/items/" + record.getAttribute("data-record")).then(function (r) { return r.json(); }).then(function (course) {
      var ids = [], last = "";
      course.modules.forEach(function (m) { ids = ids.concat(m.lessons); });
      var doneIds = ids.filter(function (id) { var d = store.get("done:" + id, null); if (d && d > last) { last = d; } return d; });
      var status = $("[data-record-status]");
      if (!ids.length || doneIds.length < ids.length) {
        status.textContent = status.getAttribute("data-not-yet").replace("%(done)s", doneIds.length).replace("%(all)s", ids.length);
        return;
      }
      status.hidden = true;
      $("[data-record-whole]").hidden = false;
      $("[data-record-date]").textContent = last.split("-").reverse().join(".");
      var print = $("[data-print]");
      print.hidden = false;
      print.addEventListener("click", function () { window.print(); });
    }).catch(function () {});
  }

  // The classroom page: today's list as big picture buttons, in the order it was made, each
  // with a button to take it out; "Clear" can be undone. A tap on a picture plays it on the
  // stage, full screen, and today's list plays on from there.
  function initClassroomList() {
    var playlist = $("[data-playlist]");
    if (!playlist) { return; }
    store.set("teacher", true);  // from now on this device's item pages offer "Add to today's class"
    var ids = store.get("playlist", []), grid = $("[data-playlist-items]");
    var empty = $("[data-playlist-empty]"), undo = $("[data-playlist-undo]");
    var words = $("[data-remove-label]"), removeLabel = (words.content || words).textContent;
    function show() {
      ids = store.get("playlist", []);
      playlist.hidden = !ids.length;
      empty.hidden = !!ids.length;
      grid.textContent = "";
      ids.forEach(function (id, at) {
        var cell = document.createElement("div"), a = document.createElement("a"), remove = document.createElement("button");
        cell.className = "class-item"; cell.style.order = at;  // the answers arrive in any order
        a.className = "card"; a.href = "/item/" + encodeURIComponent(id) + "?classroom=1";
        remove.type = "button"; remove.className = "remove"; remove.textContent = "\u00d7";
        remove.setAttribute("aria-label", removeLabel);
        remove.addEventListener("click", function () {
          store.set("playlist", store.get("playlist", []).filter(function (x) { return x !== id; }));
          show();
        });
        cell.appendChild(a); cell.appendChild(remove); grid.appendChild(cell);
        fetch("/api/items/" + encodeURIComponent(id)).then(function (r) { return r.ok ? r.json() : null; }).then(function (item) {
          if (!item) { cell.parentNode && grid.removeChild(cell); return; }
          var poster = item.files.filter(function (f) { return f.role === "poster"; })[0];
          var thumb = document.createElement("span"), inner;
          thumb.className = "thumb";
          if (poster) { inner = document.createElement("img"); inner.src = poster.url; inner.alt = ""; } else { inner = document.createElement("span"); }
          thumb.appendChild(inner);
          var title = document.createElement("span"); title.className = "card-title"; title.textContent = item.title;
          remove.setAttribute("aria-label", removeLabel + ": " + item.title);
          a.appendChild(thumb); a.appendChild(title);
        });
      });
    }
    show();
    $("[data-playlist-clear]").addEventListener("click", function () {
      store.set("playlist-undo", store.get("playlist", []));
      store.del("playlist");
      undo.hidden = false;
      show();
    });
    $("[data-undo]", undo).addEventListener("click", function () {
      store.set("playlist", store.get("playlist-undo", []));
      store.del("playlist-undo");
      undo.hidden = true;
      show();
    });
    initStage();
  }

  // The stage: full screen is asked for inside the teacher's tap (browsers refuse it at any
  // other time) on a box that holds a frame; the items play in the frame one after another,
  // so full screen stays for the whole list.
  function initStage() {
    var stage = $("[data-stage]");
    if (!stage) { return; }
    var frame = $("iframe", stage);
    var request = stage.requestFullscreen || stage.webkitRequestFullscreen;
    function open(href) {
      stage.hidden = false;
      if (request) { try { var asked = request.call(stage); if (asked && asked.catch) { asked.catch(function () {}); } } catch (e) { /* the stage fills the screen anyway */ } }
      frame.src = href;
    }
    function close() {
      stage.hidden = true;
      frame.src = "about:blank";
      var exit = document.exitFullscreen || document.webkitExitFullscreen;
      if ((document.fullscreenElement || document.webkitFullscreenElement) && exit) { exit.call(document); }
    }
    document.addEventListener("click", function (e) {
      var card = e.target.closest ? e.target.closest("main .card") : null;
      if (!card || e.defaultPrevented) { return; }
      e.preventDefault();
      open(card.getAttribute("href").indexOf("classroom=1") >= 0 ? card.getAttribute("href") : card.getAttribute("href") + "?classroom=1");
    });
    $("[data-stage-close]", stage).addEventListener("click", close);
    $("[data-stage-next]", stage).addEventListener("click", function () {
      var now = decodeURIComponent(frame.contentWindow.location.pathname.split("/")[2]), list = store.get("playlist", []);
      var at = list.indexOf(now);
      if (at >= 0 && at + 1 < list.length) { frame.src = "/item/" + encodeURIComponent(list[at + 1]) + "?classroom=1"; } else { close(); }
    });
    window.addEventListener("message", function (e) {
      if (e.source === frame.contentWindow && e.origin === location.origin && e.data && e.data.type === "sanduq:class-ended") { close(); }
    });
    // Leaving full screen (the tablet's back button) leaves the stage too.
    function left() { if (!stage.hidden && !(document.fullscreenElement || document.webkitFullscreenElement)) { close(); } }
    document.addEventListener("fullscreenchange", left);
    document.addEventListener("webkitfullscreenchange", left);
  }

  // Suggestions while typing a search.
  function initSuggestions() {
    var q = $("#q");
    if (!q || !window.fetch) { return; }
    var list = document.createElement("ul"), timer, asked = "";
    list.id = "suggest"; list.setAttribute("role", "listbox"); list.hidden = true;
    q.parentNode.appendChild(list);
    q.setAttribute("aria-controls", "suggest");
    q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var text = q.value.trim();
        if (text.length < 2) { list.hidden = true; return; }
        asked = text;
        fetch("/api/search?suggest=1&limit=6&q=" + encodeURIComponent(text)).then(function (r) { return r.json(); }).then(function (answer) {
          if (asked !== text) { return; }
          list.textContent = "";
          answer.items.forEach(function (item) {
            var li = document.createElement("li"), a = document.createElement("a");
            li.setAttribute("role", "option"); a.href = "/item/" + item.id; a.textContent = item.title;
            li.appendChild(a); list.appendChild(li);
          });
          list.hidden = !answer.items.length;
        }).catch(function () {});
      }, 200);
    });
    document.addEventListener("click", function (e) { if (e.target !== q) { list.hidden = true; } });
  }

  [initMedia, initBook, initReadAloud, initGame, initDone, initAddToClass, initItemActions, initCourseProgress,
    initRecord, initClassroomList, initSuggestions, initTakeHome].forEach(function (init) { init(); });
})();
