/*
 * View models of Anonymous Usage Tracking: the first-run wizard and the settings pane.
 * Every API call goes through the client component OctoPrint.plugins.usage_tracking.
 */
$(function () {
    function client() {
        return OctoPrint.plugins.usage_tracking;
    }

    // Catalog meanings and titles are English in the API's answers; the German (or
    // any) catalog holds them because catalog.py marks them with N_. A field the
    // catalog flags as on/off only gets that note, as in templates/snippets/catalog.jinja2.
    function translateMeaning(text, onOff) {
        if (!text) return "";
        return gettext(text) + (onOff ? " (" + gettext("on/off only") + ")" : "");
    }

    function notifyError(text) {
        new PNotify({
            title: gettext("Anonymous Usage Tracking"),
            text: text,
            type: "error",
            hide: false
        });
    }

    function localTime(value) {
        if (!value) return "-";
        const date = new Date(value);
        return isNaN(date.getTime()) ? String(value) : date.toLocaleString();
    }

    function fieldsText(fields) {
        return _.map(fields || {}, function (v, k) {
            return k + "=" + v;
        }).join(", ");
    }

    // The environment the server holds, in the reference collector's order; a key
    // another server adds is shown under its own name. A function: gettext exists
    // only once OctoPrint's UI has loaded its translations, after this file runs.
    function environmentLabels() {
        return [
            ["version", gettext("OctoPrint version")],
            ["python", gettext("Python version")],
            ["os", gettext("Operating system")],
            ["bits", gettext("Bits")],
            ["cores", gettext("CPU cores")],
            ["pi_model", gettext("Raspberry Pi model")],
            ["octopi", gettext("OctoPi version")],
            ["firmware", gettext("Printer firmware")],
            ["browser", gettext("Browser")],
            ["country", gettext("Country")],
            ["city", gettext("City")]
        ];
    }

    // The server's document made readable. Nothing in it is trusted to have a shape:
    // another server may send any JSON object, and the text bindings escape it.
    function serverDataView(data) {
        const environment = _.isObject(data.environment) ? data.environment : {};
        const labels = environmentLabels();
        const known = _.object(labels);
        const keys = _.map(labels, _.first).concat(
            _.filter(_.keys(environment), function (key) {
                return !_.has(known, key) && key !== "plugins";
            })
        );
        const value = function (v) {
            return v === null || v === undefined || v === "" ? "-" : String(v);
        };
        const list = function (v) {
            return _.isArray(v) ? _.filter(v, _.isObject) : [];
        };
        return {
            firstSeen: localTime(data.first_seen),
            lastSeen: localTime(data.last_seen),
            lastPrint: localTime(data.last_print),
            environment: _.map(keys, function (key) {
                return {
                    key: key,
                    label: known[key] || key,
                    value: value(environment[key])
                };
            }),
            plugins: _.map(list(environment.plugins), function (plugin) {
                return {id: value(plugin.id), version: value(plugin.version)};
            }),
            days: _.map(list(data.days), function (day) {
                const prints = _.isObject(day.prints) ? day.prints : {};
                const hours = _.isArray(day.active_hours) ? day.active_hours : [];
                return {
                    day: value(day.day),
                    version: value(day.version),
                    hoursCount: _.sprintf(gettext("%(count)s h"), {count: hours.length}),
                    hours: hours.join(", "),
                    started: value(prints.started),
                    done: value(prints.done),
                    failed: value(prints.failed),
                    cancelled: value(prints.cancelled)
                };
            }),
            events: _.map(list(data.events), function (event) {
                return {
                    when: localTime(event.ts),
                    event: value(event.event),
                    fieldsText: fieldsText(event.fields)
                };
            })
        };
    }

    // What the owner is told for each answer (delivery/protocol.py: ServerData).
    function serverDataMessage(result) {
        switch (result.state) {
            case "ok":
                return _.sprintf(gettext("The server's answer at %(time)s:"), {
                    time: new Date().toLocaleTimeString()
                });
            case "unknown":
                return gettext("The server holds nothing about this instance.");
            case "unsupported":
                return gettext("This server does not offer a view of stored data.");
            case "limited":
                return result.retry_after
                    ? _.sprintf(
                          gettext(
                              "The server was asked too often. Try again in %(seconds)s seconds."
                          ),
                          {seconds: Math.ceil(result.retry_after)}
                      )
                    : gettext("The server was asked too often. Try again later.");
            case "unreachable":
                return result.status
                    ? _.sprintf(
                          gettext(
                              "The server could not answer (HTTP %(status)s). Try again later."
                          ),
                          {status: result.status}
                      )
                    : gettext("The server could not be reached. Try again later.");
            case "off":
                return result.reason === "server_not_allowed"
                    ? gettext(
                          "Nothing is asked of the configured tracking server: it is not allowed."
                      )
                    : gettext("Tracking is off: nothing is asked of the server.");
        }
        return gettext("The server's answer could not be read.");
    }

    function UsageTrackingWizardViewModel(parameters) {
        const self = this;
        self.settingsViewModel = parameters[0];

        self.active = ko.observable(false);
        // "enabled", "disabled" or "declined" once the owner decided in this wizard.
        self.decision = ko.observable();
        self.accepted = ko.observable(0);
        self.upgrade = ko.observable(false);
        self.decided = ko.pureComputed(function () {
            return !!self.decision();
        });
        self.required = false;

        self.isNew = function (since) {
            return since > self.accepted();
        };

        self.onWizardDetails = function (response) {
            const wizard = (response && response.usage_tracking) || {};
            const details = wizard.details || {};
            self.required = !!wizard.required && !wizard.ignored;
            self.accepted(details.accepted || 0);
            // Already enabled and still asked: the consent version rose, so only
            // what is new is shown, with Accept or Decline.
            self.upgrade(details.enabled === true);
        };

        self._decide = function (call, decision) {
            self.active(true);
            return call()
                .done(function () {
                    self.decision(decision);
                })
                .fail(function () {
                    notifyError(
                        gettext(
                            "Your decision on anonymous usage tracking could not be saved."
                        )
                    );
                })
                .always(function () {
                    self.active(false);
                });
        };

        self.enable = function () {
            self._decide(function () {
                return client().decide(true);
            }, "enabled");
        };
        self.accept = self.enable;

        self.disable = function () {
            self._decide(function () {
                return client().decide(false);
            }, "disabled");
        };

        self.decline = function () {
            self._decide(function () {
                return client().declineUpdate();
            }, "declined");
        };

        self._decisionNeeded = function () {
            showMessageDialog({
                title: gettext("Please set up anonymous usage tracking"),
                message: gettext(
                    "Please choose whether to enable or disable anonymous usage tracking before you continue."
                )
            });
        };

        self.onBeforeWizardTabChange = function (next, current) {
            if (
                !self.required ||
                !current ||
                !_.startsWith(current, "wizard_plugin_usage_tracking") ||
                self.decided()
            ) {
                return true;
            }
            self._decisionNeeded();
            return false;
        };

        self.onBeforeWizardFinish = function () {
            if (!self.required || self.decided()) {
                return true;
            }
            self._decisionNeeded();
            return false;
        };
    }

    function UsageTrackingSettingsViewModel(parameters) {
        const self = this;
        self.settingsViewModel = parameters[0];
        self.loginState = parameters[1];

        self.settings = undefined;
        self.status = ko.observable();
        self.preview = ko.observableArray([]);
        self.previewShown = ko.observable(false);
        self.journal = ko.observableArray([]);
        self.webuiLoadSent = false;
        self.serverDataAsking = ko.observable(false);
        self.serverDataMessage = ko.observable("");
        self.serverDataProblem = ko.observable(false);
        self.serverDataView = ko.observable();

        self.killSwitch = ko.pureComputed(function () {
            const status = self.status();
            return (status && status.kill_switch) || "";
        });

        self.lastProblem = ko.pureComputed(function () {
            const status = self.status();
            const problem = status && status.delivery && status.delivery.last_problem;
            if (!problem) return "";
            return _.sprintf(gettext("%(report)s at %(time)s: %(answer)s"), {
                report: problem.report,
                time: new Date(problem.time * 1000).toLocaleString(),
                answer: problem.status
                    ? _.sprintf(gettext("the server answered HTTP %(status)s"), {
                          status: problem.status
                      })
                    : gettext("no answer from the server")
            });
        });

        self.previewButtonText = ko.pureComputed(function () {
            return self.previewShown() ? gettext("Hide preview") : gettext("Show preview");
        });

        self.onBeforeBinding = function () {
            self.settings = self.settingsViewModel.settings.plugins.usage_tracking;
        };

        // webui_load, once per page load and only for a logged-in user (the API is
        // protected). The server's consent gate drops it unless tracking and its
        // switch are on, so nothing leaves while tracking is off.
        self.onUserLoggedIn = function () {
            if (self.webuiLoadSent) return;
            self.webuiLoadSent = true;
            const browser = OctoPrint.coreui.browser || {};
            client().track("webui_load", {
                browser_name: browser.browser_name,
                browser_version: browser.browser_version,
                os_name: browser.os_name,
                os_version: browser.os_version
            });
        };

        self.onDataUpdaterPluginMessage = function (plugin, data) {
            if (plugin !== "usage_tracking" || !data) return;
            if (data.type === "server_refused") {
                // Every open page gets this message, whatever its language: the
                // rule is worded (and translated) in the page, not sent by the server.
                // The rule's text comes from the settings template (protocol.py's
                // SERVER_RULE, translated there).
                notifyError(
                    gettext("The new tracking server was refused.") +
                        " " +
                        $("#usage_tracking_server_rule").text()
                );
            }
        };

        self.onSettingsShown = function () {
            self.loadStatus();
            self.loadJournal();
        };

        self.onSettingsHidden = function () {
            self.previewShown(false);
            self.preview([]);
            self.serverDataMessage("");
            self.serverDataView(undefined);
        };

        self.loadStatus = function () {
            return client().status().done(self.status);
        };

        self.togglePreview = function () {
            if (self.previewShown()) {
                self.previewShown(false);
                return;
            }
            self.loadPreview().done(function () {
                self.previewShown(true);
            });
        };

        self.loadPreview = function () {
            return client()
                .preview()
                .done(function (response) {
                    self.preview(
                        _.map(response.preview, function (report) {
                            return {
                                report: report.report,
                                method: report.method,
                                description: translateMeaning(report.description),
                                sample: report.sample,
                                sent: report.sent,
                                rows: _.map(report.fields, function (value, field) {
                                    return {
                                        field: field,
                                        value: value,
                                        meaning: translateMeaning(
                                            report.meanings[field],
                                            _.contains(report.on_off, field)
                                        )
                                    };
                                })
                            };
                        })
                    );
                })
                .fail(function () {
                    notifyError(gettext("The preview could not be loaded."));
                });
        };

        // The file holds the API's answer unchanged: exactly what would be sent.
        self.downloadPreview = function () {
            client()
                .preview()
                .done(function (response) {
                    const blob = new Blob([JSON.stringify(response.preview, null, 2)], {
                        type: "application/json"
                    });
                    const link = document.createElement("a");
                    link.href = URL.createObjectURL(blob);
                    link.download = "usage-tracking-preview.json";
                    document.body.appendChild(link);
                    link.click();
                    document.body.removeChild(link);
                    setTimeout(function () {
                        URL.revokeObjectURL(link.href);
                    }, 0);
                })
                .fail(function () {
                    notifyError(gettext("The preview could not be loaded."));
                });
        };

        const OUTCOMES = {
            delivered: gettext("delivered"),
            rejected: gettext("rejected by the server"),
            expired: gettext("expired before it could be sent")
        };

        self.loadJournal = function () {
            return client()
                .journal()
                .done(function (response) {
                    self.journal(
                        _.map(response.journal.slice().reverse(), function (entry) {
                            return {
                                when: new Date(entry.time * 1000).toLocaleString(),
                                report: entry.report,
                                fieldsText: _.map(entry.fields, function (v, k) {
                                    return k + "=" + v;
                                }).join(", "),
                                delivered: entry.outcome === "delivered",
                                outcome:
                                    (OUTCOMES[entry.outcome] || entry.outcome) +
                                    (entry.status ? " (HTTP " + entry.status + ")" : "")
                            };
                        })
                    );
                });
        };

        // Only on the owner's click: the server is never asked on page load.
        self.askServer = function () {
            self.serverDataAsking(true);
            self.serverDataView(undefined);
            self.serverDataMessage("");
            client()
                .serverData()
                .done(function (result) {
                    const ok = result.state === "ok" && _.isObject(result.data);
                    // Not an answer to show, and worth trying again later.
                    self.serverDataProblem(
                        !_.contains(["ok", "unknown", "unsupported", "off"], result.state)
                    );
                    self.serverDataMessage(serverDataMessage(result));
                    self.serverDataView(ok ? serverDataView(result.data) : undefined);
                })
                .fail(function () {
                    self.serverDataProblem(true);
                    self.serverDataMessage(
                        gettext("OctoPrint could not ask the tracking server.")
                    );
                })
                .always(function () {
                    self.serverDataAsking(false);
                });
        };

        self.resetId = function () {
            showConfirmationDialog({
                message: gettext(
                    "A new instance ID will be made. Nothing more is sent under the old one."
                ),
                onproceed: function () {
                    client()
                        .resetId()
                        .done(function () {
                            self.settingsViewModel.requestData();
                            self.loadStatus();
                        })
                        .fail(function () {
                            notifyError(gettext("The instance ID could not be reset."));
                        });
                }
            });
        };
    }

    OCTOPRINT_VIEWMODELS.push({
        construct: UsageTrackingWizardViewModel,
        dependencies: ["settingsViewModel"],
        elements: ["#wizard_plugin_usage_tracking"]
    });

    OCTOPRINT_VIEWMODELS.push({
        construct: UsageTrackingSettingsViewModel,
        dependencies: ["settingsViewModel", "loginStateViewModel"],
        elements: ["#settings_plugin_usage_tracking"]
    });
});
