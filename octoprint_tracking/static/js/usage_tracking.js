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
