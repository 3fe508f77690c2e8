// Verity embed SDK (served at /sdk/verity.js): opens the verification flow in an iframe on an
// allowed site and relays the flow's messages to the site's callbacks. No dependencies.
//
//   var client = new Verity.Client({ templateId: 'itmpl_…', referenceId: 'user-42',
//     onComplete: function (r) { /* r.inquiryId, r.status, r.fields */ } });
//   client.open();
(function (win, doc) {
  'use strict';
  var script = doc.currentScript;
  // Messages are accepted only from the origin this script was loaded from.
  var ORIGIN = new URL(script && script.src ? script.src : location.href).origin;

  function call(fn) {
    if (typeof fn !== 'function') return;
    var args = [].slice.call(arguments, 1);
    try {
      fn.apply(null, args);
    } catch (e) {
      setTimeout(function () { throw e; });
    }
  }

  function Client(options) {
    if (!(this instanceof Client)) return new Client(options);
    this.o = options || {};
    this.host = (this.o.host || ORIGIN).replace(/\/$/, '');
    this.frame = null;
    this.modal = null;
    this.state = { inquiryId: this.o.inquiryId, sessionToken: this.o.sessionToken };
    this.listener = this.receive.bind(this);
  }

  Client.prototype.url = function () {
    var o = this.o;
    var p = new URLSearchParams();
    if (o.inquiryId) {
      p.set('inquiry-id', o.inquiryId);
      if (o.sessionToken) p.set('session-token', o.sessionToken);
    } else {
      p.set('inquiry-template-id', o.templateId || '');
      if (o.referenceId) p.set('reference-id', o.referenceId);
      var fields = o.fields || {};
      Object.keys(fields).forEach(function (key) {
        p.set('fields[' + key + ']', fields[key]);
      });
    }
    p.set('parent-origin', location.origin);
    return this.host + '/embed?' + p;
  };

  Client.prototype.open = function () {
    if (this.frame) {
      if (this.modal) this.modal.style.display = 'flex';
      return this;
    }
    var o = this.o;
    var frame = doc.createElement('iframe');
    frame.title = o.title || 'Identity verification';
    frame.allow = 'camera';
    frame.setAttribute('sandbox', 'allow-scripts allow-same-origin allow-forms allow-popups');
    frame.style.cssText = 'border:0;width:100%;height:100%;min-height:' + (o.container ? '640px' : '0') + ';background:#fff';
    win.addEventListener('message', this.listener);
    frame.src = this.url();
    if (o.container) {
      var parent = typeof o.container === 'string' ? doc.querySelector(o.container) : o.container;
      parent.appendChild(frame);
    } else {
      var modal = doc.createElement('div');
      modal.setAttribute('role', 'dialog');
      modal.setAttribute('aria-modal', 'true');
      modal.setAttribute('aria-label', frame.title);
      modal.style.cssText = 'position:fixed;inset:0;z-index:2147483647;background:rgba(0,0,0,.5);display:flex;align-items:center;justify-content:center';
      var box = doc.createElement('div');
      box.style.cssText = 'position:relative;width:min(520px,100%);height:min(760px,100%);background:#fff;border-radius:8px;overflow:hidden';
      var close = doc.createElement('button');
      close.type = 'button';
      close.textContent = '\u00d7';
      close.setAttribute('aria-label', 'Close verification');
      close.style.cssText = 'position:absolute;top:4px;right:8px;border:0;background:none;font-size:28px;line-height:1;cursor:pointer';
      var self = this;
      close.onclick = function () { self.cancel(); };
      box.appendChild(frame);
      box.appendChild(close);
      modal.appendChild(box);
      doc.body.appendChild(modal);
      this.modal = modal;
    }
    this.frame = frame;
    return this;
  };

  Client.prototype.receive = function (event) {
    if (!this.frame || event.origin !== this.host || event.source !== this.frame.contentWindow) return;
    var m = event.data;
    var o = this.o;
    if (!m || m.source !== 'verity') return;
    if (m.type === 'ready') {
      call(o.onReady);
    } else if (m.type === 'event') {
      var meta = m.meta || {};
      if (meta.inquiryId) this.state.inquiryId = meta.inquiryId;
      if (meta.sessionToken) this.state.sessionToken = meta.sessionToken;
      call(o.onEvent, m.name, meta);
    } else if (m.type === 'complete') {
      if (this.completed) return;
      this.completed = true;
      call(o.onComplete, { inquiryId: m.inquiryId, status: m.status, fields: m.fields || {} });
    } else if (m.type === 'cancel') {
      this.cancel();
    } else if (m.type === 'error') {
      call(o.onError, { code: m.code });
    }
  };

  Client.prototype.cancel = function () {
    var state = this.state;
    this.destroy();
    call(this.o.onCancel, { inquiryId: state.inquiryId, sessionToken: state.sessionToken });
  };

  Client.prototype.destroy = function () {
    win.removeEventListener('message', this.listener);
    var node = this.modal || this.frame;
    if (node && node.parentNode) node.parentNode.removeChild(node);
    this.frame = this.modal = null;
  };

  win.Verity = { Client: Client };
})(window, document);
